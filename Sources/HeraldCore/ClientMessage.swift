/// One decoded client frame (PROTOCOL.md §2), with the `requestId` its replies echo.
public struct ClientMessage: Equatable, Sendable {
    /// What the client asked for.
    public enum Action: Equatable, Sendable {
        /// `since`: the last `seq` the client saw; `epoch`: the stream epoch it saw it in (from an earlier ack).
        case subscribe([EntityID], since: Int?, epoch: String? = nil)
        case unsubscribe([EntityID])
        case refresh(token: String)
        case ping
    }

    public var action: Action
    public var requestID: JSONValue?

    public init(action: Action, requestID: JSONValue? = nil) {
        self.action = action
        self.requestID = requestID
    }

    /// Decodes a text frame; the error says which error frame to answer with.
    public static func decode(_ bytes: some Collection<UInt8>) -> Result<ClientMessage, ProtocolError> {
        guard case .object(let fields)? = JSON.parse(bytes) else {
            return .failure(ProtocolError(.invalidJSON, "a message must be one JSON object"))
        }
        let requestID = fields["requestId"].flatMap(Self.validRequestID)
        do {
            return .success(ClientMessage(action: try action(from: fields), requestID: requestID))
        } catch var error {
            error.requestID = requestID
            return .failure(error)
        }
    }

    /// The one error for a `subscribe` or `unsubscribe` whose `entityIds` lists more than `limit`
    /// (`--max-subscriptions`) ids: it could never be subscribed in full, and answering it id by
    /// id would turn one message into thousands of replies (and authorisation-hook calls). Nil
    /// for any other message.
    public func refusalOfLongEntityList(limit: Int) -> ProtocolError? {
        let entities: [EntityID]
        switch action {
        case .subscribe(let ids, _, _), .unsubscribe(let ids): entities = ids
        case .refresh, .ping: return nil
        }
        guard entities.count > limit else { return nil }
        return ProtocolError(
            .invalidMessage,
            "entityIds lists \(entities.count) ids; at most \(limit) per message (the subscription limit)",
            requestID: requestID
        )
    }

    private static func validRequestID(_ value: JSONValue) -> JSONValue? {
        switch value {
        case .string, .int, .double: value
        default: nil
        }
    }

    private static func action(from fields: [String: JSONValue]) throws(ProtocolError) -> Action {
        guard case .string(let name)? = fields["action"] else {
            throw ProtocolError(.unknownAction, "\"action\" must be a string: subscribe, unsubscribe, refresh or ping")
        }
        switch name {
        case "subscribe":
            return .subscribe(try entityIDs(from: fields), since: try since(from: fields), epoch: try epoch(from: fields))
        case "unsubscribe":
            return .unsubscribe(try entityIDs(from: fields))
        case "refresh":
            guard case .string(let token)? = fields["token"], !token.isEmpty else {
                throw ProtocolError(.invalidMessage, "\"token\" must be a non-empty string")
            }
            return .refresh(token: token)
        case "ping":
            return .ping
        default:
            throw ProtocolError(.unknownAction, "unknown action; expected subscribe, unsubscribe, refresh or ping")
        }
    }

    private static func entityIDs(from fields: [String: JSONValue]) throws(ProtocolError) -> [EntityID] {
        switch (fields["entityId"], fields["entityIds"]) {
        case (.some, .some):
            throw ProtocolError(.invalidMessage, "send \"entityId\" or \"entityIds\", not both")
        case (.some(let single), nil):
            return [try entityID(single)]
        case (nil, .some(.array(let many))) where !many.isEmpty:
            return try many.map { (value: JSONValue) throws(ProtocolError) in try entityID(value) }
        case (nil, .some(.array)):
            throw ProtocolError(.invalidEntityID, "\"entityIds\" must not be empty")
        case (nil, .some):
            throw ProtocolError(.invalidMessage, "\"entityIds\" must be an array of strings")
        case (nil, nil):
            throw ProtocolError(.invalidEntityID, "\"entityId\" is required")
        }
    }

    private static func entityID(_ value: JSONValue) throws(ProtocolError) -> EntityID {
        guard case .string(let raw) = value else {
            throw ProtocolError(.invalidMessage, "an entity id must be a string")
        }
        guard let id = EntityID(raw) else {
            throw ProtocolError(
                .invalidEntityID,
                "an entity id must be \(EntityID.rule)"
            )
        }
        return id
    }

    private static func since(from fields: [String: JSONValue]) throws(ProtocolError) -> Int? {
        switch fields["since"] {
        case nil, .null?: return nil
        case .int(let value)? where value >= 0: return value
        default: throw ProtocolError(.invalidMessage, "\"since\" must be a non-negative integer")
        }
    }

    private static func epoch(from fields: [String: JSONValue]) throws(ProtocolError) -> String? {
        switch fields["epoch"] {
        case nil, .null?: return nil
        case .string(let value)?: return value
        default: throw ProtocolError(.invalidMessage, "\"epoch\" must be a string (the epoch of an earlier subscribed ack)")
        }
    }
}
