import HeraldCore
import HeraldTokens
import Hummingbird
import NIOCore

/// The admin API of OPERATIONS.md §2, publish-key protected: `GET /admin/stats`,
/// `GET /admin/connections[?userId=…&limit=…]` and `DELETE /admin/connections/{id}` (closed with 4003).
struct AdminRoutes: Sendable {
    /// Connections listed at most, unless `limit` asks for fewer or more (up to `maxListLimit`).
    static let defaultListLimit = 1_000
    static let maxListLimit = 100_000

    let hub: Hub
    let broker: any Broker
    let refusals: Refusals
    /// Where the slow-consumer closes are counted.
    let metrics: HeraldMetrics
    /// Connections on every node of the cluster (this node's alone when it has none).
    let connections: ConnectionRouter

    func add(to router: Router<BasicRequestContext>, keys: PublishKeys) {
        let group = router.group("admin").add(middleware: keys.middleware)
        group.get("stats") { _, _ in stats() }
        group.get("connections") { request, _ in try await list(request) }
        group.delete("connections/:connectionId") { _, context in
            let id = try PathParameter.connectionID("connectionId", in: context)
            let closed: Bool
            do {
                closed = try await connections.disconnect(id)
            } catch {
                throw HTTPRefusal.clusterUnavailable
            }
            guard closed else { throw HTTPRefusal(.notFound, reason: "not_found", message: "no open connection with this id") }
            return Response(status: .noContent)
        }
    }

    private func stats() -> Response {
        var body = JSONObjectWriterBody()
        body.add("connections", hub.connections)
        body.add("subscriptions", hub.subscriptions)
        body.add("entities", hub.entities)
        let kept = broker.streamFigures
        body.add("streams", kept.streams)
        body.add("keptEvents", kept.keptEvents)
        body.add("keptBytes", kept.keptBytes)
        body.add("slowConsumerDisconnects", metrics.slowConsumerDisconnectCount)
        body.add("refusals", .object(refusals.snapshot.mapValues { .int($0) }))
        return body.response(status: .ok)
    }

    private func list(_ request: Request) async throws(HTTPRefusal) -> Response {
        let query = request.uri.queryParameters
        var limit = Self.defaultListLimit
        if let text = query["limit"] {
            guard let value = Int(text), (1...Self.maxListLimit).contains(value) else {
                throw HTTPRefusal.badRequest("invalid_query", "limit must be a whole number from 1 to \(Self.maxListLimit)")
            }
            limit = value
        }
        var user: UserID?
        if let text = query["userId"] {
            guard let id = UserID(String(text)) else {
                throw HTTPRefusal.badRequest("invalid_query", "userId must be \(EntityID.rule)")
            }
            user = id
        }
        guard let (listed, truncated) = try? await connections.list(user: user, limit: limit) else {
            throw HTTPRefusal.clusterUnavailable
        }
        var body: [String: JSONValue] = ["connections": .array(listed.map(\.json))]
        // Present (true) when more connections matched than `limit`.
        if truncated { body["truncated"] = .bool(true) }
        return JSONResponse.make(status: .ok, body: ByteBuffer(bytes: JSON.encode(JSONValue.object(body))))
    }
}
