import Foundation
import HeraldCore
import Hummingbird
import NIOCore

/// The admin API of SPEC §6, publish-key protected: `GET /admin/stats`,
/// `GET /admin/connections[?userId=…&limit=…]` and `DELETE /admin/connections/{id}` (closed with 4003).
struct AdminRoutes: Sendable {
    /// Connections listed at most, unless `limit` asks for fewer or more (up to `maxListLimit`).
    static let defaultListLimit = 1_000
    static let maxListLimit = 100_000

    let hub: Hub
    let refusals: Refusals
    let directory: ConnectionDirectory

    func add(to router: Router<BasicRequestContext>, keys: PublishKeys) {
        let group = router.group("admin").add(middleware: keys.middleware)
        group.get("stats") { _, _ in stats() }
        group.get("connections") { request, _ in try await connections(request) }
        group.delete("connections/:connectionId") { _, context in
            guard let connection = directory.connection(context.parameters.get("connectionId") ?? ""),
                try await connection.disconnect()
            else {
                return ConnectRejection(.notFound, reason: "not_found", message: "no open connection with this id on this node").response
            }
            return Response(status: .noContent)
        }
    }

    private func stats() -> Response {
        var body = JSONObjectWriterBody()
        body.add("connections", hub.connections)
        body.add("subscriptions", hub.subscriptions)
        body.add("entities", hub.entities)
        body.add("slowConsumerDisconnects", hub.slowConsumerDisconnects)
        body.add("refusals", .object(refusals.snapshot.mapValues { .int($0) }))
        return body.response(status: .ok)
    }

    private func connections(_ request: Request) async throws -> Response {
        let query = request.uri.queryParameters
        var limit = Self.defaultListLimit
        if let text = query["limit"] {
            guard let value = Int(text), (1...Self.maxListLimit).contains(value) else {
                return ConnectRejection(
                    .badRequest, reason: "invalid_query", message: "limit must be a whole number from 1 to \(Self.maxListLimit)"
                ).response
            }
            limit = value
        }
        var user: UserID?
        if let text = query["userId"] {
            guard let id = UserID(String(text)) else {
                return ConnectRejection(.badRequest, reason: "invalid_query", message: "userId must be 1 to 256 bytes without control characters").response
            }
            user = id
        }
        let matching = directory.connections(of: user)
        var listed: [ListedConnection] = []
        for connection in matching.prefix(limit) {
            // A connection that closed since it was listed is left out.
            guard let snapshot = try? await connection.snapshot() else { continue }
            listed.append(ListedConnection(snapshot))
        }
        let body = ConnectionList(connections: listed, truncated: matching.count > limit ? true : nil)
        return JSONResponse.make(status: .ok, body: ByteBuffer(bytes: JSON.encode(body)))
    }
}

/// `GET /admin/connections`.
private struct ConnectionList: Encodable {
    var connections: [ListedConnection]
    /// Present (true) when more connections matched than `limit`.
    var truncated: Bool?
}

private struct ListedConnection: Encodable {
    var connectionId: String
    var userId: String
    var sourceIp: String
    var userAgent: String?
    var connectedAt: String
    var lastActiveAt: String
    var subscriptions: Int

    init(_ snapshot: ConnectionSnapshot) {
        connectionId = "\(snapshot.connectionID)"
        userId = "\(snapshot.userID)"
        sourceIp = snapshot.peer.sourceIP
        userAgent = snapshot.peer.userAgent
        connectedAt = snapshot.peer.connectedAt.formatted(.iso8601Milliseconds)
        lastActiveAt = snapshot.lastActiveAt.formatted(.iso8601Milliseconds)
        subscriptions = snapshot.subscriptions
    }
}
