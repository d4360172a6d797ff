/// The publish API's requests and answers (PROTOCOL.md's publish section), in every shape: the
/// server's routes and the AWS shape's publish function read bodies and build answers here.
public enum PublishAPI {
    /// The largest accepted body (EventBridge's PutEvents limit); 262,144 itself is accepted.
    public static let maxBodyBytes = 262_144

    /// A request refused whole: its status, reason code and message.
    public struct Refusal: Error, Equatable, Sendable {
        public var status: Int
        public var reason: String
        public var message: String

        public init(status: Int, reason: String, message: String) {
            (self.status, self.reason, self.message) = (status, reason, message)
        }

        static func invalidBody(_ message: String) -> Refusal { Refusal(status: 400, reason: "invalid_body", message: message) }
    }

    /// The two shortcuts: `POST /entities/{entityId}/updates` and `POST /users/{userId}/notifications`.
    public enum Shortcut: Sendable {
        case entityUpdate
        case userNotification
    }

    /// `POST /events`: one result per entry, or the refusal of a body of none of the accepted shapes.
    public static func entries(in body: some Collection<UInt8>) -> Result<[Result<Event, EventEnvelope.EntryError>], Refusal> {
        EventEnvelope.decode(body).mapError { .invalidBody($0.message) }
    }

    /// A shortcut's event: the path's `id` (already checked) and the body's fields.
    public static func event(_ shortcut: Shortcut, id: String, body: some Collection<UInt8>) -> Result<Event, Refusal> {
        guard case .object(var fields)? = JSON.parse(body) else { return .failure(.invalidBody("the body must be a JSON object")) }
        guard case .string? = fields["message"] else { return .failure(.invalidBody("\"message\" is required and must be a string")) }
        let event: Result<Event, EventEnvelope.EntryError>
        switch shortcut {
        case .entityUpdate:
            fields["entityId"] = .string(id)
            event = EventEnvelope.entityUpdate(from: fields).map(Event.entityUpdated)
        case .userNotification:
            fields["userId"] = .string(id)
            event = EventEnvelope.userNotification(from: fields).map(Event.userNotification)
        }
        return event.mapError { Refusal(status: 400, reason: $0.code, message: $0.message) }
    }

    /// `POST /events`'s `200` answer: `failedEntryCount` and one result per entry, in order —
    /// `outcomes` holds one for each good entry, in order (a receipt, or why it was not published).
    public static func answer(
        to entries: [Result<Event, EventEnvelope.EntryError>],
        outcomes: [Result<PublishReceipt, EventEnvelope.EntryError>]
    ) -> JSONValue {
        var results: [JSONValue] = []
        var outcome = outcomes.makeIterator()
        for entry in entries {
            let result: Result<PublishReceipt, EventEnvelope.EntryError>? =
                switch entry {
                case .failure(let error): .failure(error)
                case .success: outcome.next()
                }
            switch result {
            case .success(let receipt)?: results.append(answer(to: receipt))
            case .failure(let error)?: results.append(["errorCode": .string(error.code), "errorMessage": .string(error.message)])
            case nil: break
            }
        }
        let failed = results.count { $0["errorCode"] != nil }
        return ["failedEntryCount": .int(failed), "entries": .array(results)]
    }

    /// A published event's result: `{"eventId", "seq"}` (`seq` when the shape numbered it).
    public static func answer(to receipt: PublishReceipt) -> JSONValue {
        var fields: [String: JSONValue] = ["eventId": .string(receipt.eventID)]
        if let seq = receipt.seq { fields["seq"] = .int(seq) }
        return .object(fields)
    }

    /// `presented` (the key of `Authorization: Bearer <key>`) is one of `keys`; every key is
    /// compared in constant time, so timing tells nothing about which matched.
    public static func accepts(_ presented: String?, keys: [[UInt8]]) -> Bool {
        guard let presented = presented.map({ Array($0.utf8) }) else { return false }
        return keys.map { constantTimeEquals($0, presented) }.contains(true)
    }

    public static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        // The whole length difference counts (a UInt8 of it would miss lengths 256 apart).
        var difference = UInt(bitPattern: a.count ^ b.count)
        for index in 0..<max(a.count, b.count) {
            difference |= UInt((index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0))
        }
        return difference == 0
    }
}
