import Foundation
public import HeraldCore
public import HeraldTokens
import NIOCore

/// The WebSocket API's routes in one function (deploy/aws/README.md): `$connect` records the connection the
/// authorizer admitted, `$disconnect` forgets it, and every message (`subscribe`,
/// `unsubscribe`, `refresh`, `ping`, `$default`) is answered by the standalone server's own
/// rules: the connection's state is loaded from the table, Core's `SessionStateMachine` handles
/// the message, and its actions become table writes and Management API posts
/// (`WebSocketHandler+Session.swift`). A subscribe with `since` replays the kept events.
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
        let authorizer = context?["authorizer"]
        let connection = HeraldTable.Connection(
            id: id,
            userID: user,
            sourceIP: context?["identity"]?["sourceIp"]?.stringValue ?? "unknown",
            userAgent: context?["identity"]?["userAgent"]?.stringValue,
            connectedAt: Self.integer(context?["connectedAt"]) ?? Int(Date().timeIntervalSince1970 * 1000),
            expiresAt: Self.integer(authorizer?["exp"]),
            // With claim authorisation a token without the claim allows nothing (fail closed).
            allowedEntities: settings.entitiesClaim.map { _ in
                authorizer?["entities"]?.stringValue.flatMap(HeraldTable.entities) ?? EntityPatterns([])
            }
        )
        try await table.connected(connection)
        guard let subprotocol = Self.header("sec-websocket-protocol", in: event)?.split(separator: ",").first?.trimmingCharacters(in: .whitespaces)
        else { return ["statusCode": .int(200)] }
        return ["statusCode": .int(200), "headers": ["Sec-WebSocket-Protocol": .string(subprotocol)]]
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
