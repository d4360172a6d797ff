import Foundation
public import HeraldCore
public import HeraldTokens
import NIOCore

/// The WebSocket API's routes in one function (deploy/aws/README.md): `$connect` records the connection the
/// authorizer admitted, `$disconnect` forgets it, and every message (`subscribe`,
/// `unsubscribe`, `refresh`, `ping`, `$default`) is answered as the standalone server answers it
/// (PROTOCOL.md §2), through the Management API. A subscribe with `since` replays the kept events.
public struct WebSocketHandler: LambdaHandler {
    let table: HeraldTable
    let client: AWSClient
    let verifier: TokenVerifier
    let settings: LambdaSettings

    public init(table: HeraldTable, client: AWSClient, verifier: TokenVerifier, settings: LambdaSettings) {
        self.table = table
        self.client = client
        self.verifier = verifier
        self.settings = settings
    }

    public func handle(_ event: JSONValue, context: LambdaContext) async throws -> JSONValue {
        let request = event["requestContext"]
        guard let id = request?["connectionId"]?.stringValue else { throw LambdaError("not a WebSocket event: no requestContext.connectionId") }
        switch request?["eventType"]?.stringValue {
        case "CONNECT":
            return try await connect(id, event)
        case "DISCONNECT":
            try await table.disconnected(id)
            return ["statusCode": .int(200)]
        default:
            let api = ManagementAPI(client: client, endpoint: settings.managementEndpoint ?? Self.endpoint(of: request))
            try await receive(event, from: id, replyingThrough: api)
            return ["statusCode": .int(200)]
        }
    }

    /// `$connect`: the authorizer's `userId` and the peer, recorded; the `websocket` subprotocol echoed.
    private func connect(_ id: String, _ event: JSONValue) async throws -> JSONValue {
        let context = event["requestContext"]
        guard let user = context?["authorizer"]?["userId"]?.stringValue.flatMap(UserID.init) else {
            return ["statusCode": .int(401)]
        }
        let connection = HeraldTable.Connection(
            id: id,
            userID: user,
            sourceIP: context?["identity"]?["sourceIp"]?.stringValue ?? "unknown",
            userAgent: context?["identity"]?["userAgent"]?.stringValue,
            connectedAt: Self.integer(context?["connectedAt"]) ?? Int(Date().timeIntervalSince1970 * 1000)
        )
        try await table.connected(connection)
        guard let subprotocol = Self.header("sec-websocket-protocol", in: event)?.split(separator: ",").first?.trimmingCharacters(in: .whitespaces)
        else { return ["statusCode": .int(200)] }
        return ["statusCode": .int(200), "headers": ["Sec-WebSocket-Protocol": .string(subprotocol)]]
    }

    /// One client message, answered in the order of PROTOCOL.md §2.
    private func receive(_ event: JSONValue, from id: String, replyingThrough api: ManagementAPI) async throws {
        if event["isBase64Encoded"] == .bool(true) {
            return try await reply(.error(ProtocolError(.unsupportedFrame, "binary frames are not supported; send JSON text frames")), to: id, api)
        }
        let message: ClientMessage
        switch ClientMessage.decode(Array((event["body"]?.stringValue ?? "").utf8)) {
        case .failure(let error): return try await reply(.error(error), to: id, api)
        case .success(let decoded): message = decoded
        }
        let requestID = message.requestID
        if let refusal = message.refusalOfLongEntityList(limit: settings.maxSubscriptions) {
            return try await reply(.error(refusal), to: id, api)
        }
        switch message.action {
        case .subscribe(let entities, let since, let epoch):
            try await subscribe(id, to: entities, since: since, epoch: epoch, requestID: requestID, api)
        case .unsubscribe(let entities):
            try await table.unsubscribe(id, from: entities)
            for entity in entities { try await reply(Push.unsubscribed(entity, requestID: requestID), to: id, api) }
        case .refresh(let token):
            try await reply(refresh(id, token: token, requestID: requestID), to: id, api)
        case .ping:
            try await reply(Push.pong(requestID: requestID), to: id, api)
        }
    }

    private func subscribe(
        _ id: String,
        to entities: [EntityID],
        since: Int?,
        epoch clientEpoch: String?,
        requestID: JSONValue?,
        _ api: ManagementAPI
    ) async throws {
        let existing = Set(try await table.connection(id)?.subscriptions ?? [])
        var room = settings.maxSubscriptions - existing.count
        var admitted: [EntityID] = []
        var refused: [EntityID] = []
        for entity in entities {
            if existing.contains(entity) || admitted.contains(entity) {
                admitted.append(entity)
            } else if room > 0 {
                room -= 1
                admitted.append(entity)
            } else {
                refused.append(entity)
            }
        }
        try await table.subscribe(id, to: admitted.filter { !existing.contains($0) })
        let epoch = try await table.epoch()
        for entity in entities {
            if refused.contains(entity) {
                try await reply(
                    .error(
                        ProtocolError(.subscriptionLimit, "at most \(settings.maxSubscriptions) subscriptions per connection", requestID: requestID)
                    ),
                    to: id,
                    api
                )
                continue
            }
            guard let since else {
                try await reply(Push.subscribed(entity, recovered: true, epoch: epoch, requestID: requestID), to: id, api)
                continue
            }
            let replay = try await self.replay(entity, after: since, sameEpoch: clientEpoch.map { $0 == epoch } ?? true)
            try await reply(Push.subscribed(entity, recovered: replay.recovered, epoch: epoch, requestID: requestID), to: id, api)
            for push in replay.pushes { _ = try await api.post(Array(push.utf8), to: id) }
        }
    }

    /// What a client that saw `since` missed (PROTOCOL.md §4), from the kept events.
    private func replay(_ entity: EntityID, after since: Int, sameEpoch: Bool) async throws -> (recovered: Bool, pushes: [String]) {
        guard sameEpoch else { return (false, []) }
        let latest = try await table.latestSeq(of: entity)
        guard since <= latest else { return (false, []) }  // a reset stream
        let kept = try await table.kept(of: entity, after: since)
        return (since == latest || kept.first?.seq == since + 1, kept.map(\.push))
    }

    private func refresh(_ id: String, token: String, requestID: JSONValue?) async throws -> WireFrame {
        switch verifier.verify(token) {
        case .failure(let rejection):
            return .error(ProtocolError(rejection.reason == .expired ? .tokenExpired : .tokenInvalid, rejection.message, requestID: requestID))
        case .success(let identity):
            guard identity.userID == (try await table.connection(id))?.userID else {
                return .error(ProtocolError(.forbidden, "the new token belongs to another user", requestID: requestID))
            }
            return Push.refreshed(expiresAt: identity.expiresAt, requestID: requestID)
        }
    }

    private func reply(_ frame: WireFrame, to id: String, _ api: ManagementAPI) async throws {
        _ = try await api.post(Array(frame.payload.readableBytesView), to: id)
    }

    // MARK: Event fields

    /// `https://{domainName}/{stage}`, the Management API of the API that sent the event.
    static func endpoint(of context: JSONValue?) -> String {
        "https://\(context?["domainName"]?.stringValue ?? "localhost")/\(context?["stage"]?.stringValue ?? "")"
    }

    /// A request header, case-insensitively.
    static func header(_ lowercaseName: String, in event: JSONValue) -> String? {
        event["headers"]?.objectValue?.first { $0.key.lowercased() == lowercaseName }?.value.stringValue
    }

    static func integer(_ value: JSONValue?) -> Int? {
        switch value {
        case .int(let number)?: number
        case .double(let number)?: Int(exactly: number.rounded())
        case .string(let text)?: Int(text)
        default: nil
        }
    }
}

extension WireFrame {
    /// An error frame.
    static func error(_ error: ProtocolError) -> WireFrame { Push.error(error) }
}
