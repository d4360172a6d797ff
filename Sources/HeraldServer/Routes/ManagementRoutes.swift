import FoundationEssentials
import HTTPTypes
import HeraldCore
import HeraldTokens
import Hummingbird
import NIOCore

/// API Gateway's Management API (PROTOCOL.md §8), for backends that call `PostToConnection`,
/// `GetConnection` and `DeleteConnection`: `POST|GET|DELETE /@connections/{connectionId}`,
/// publish-key protected (a Bearer key, or the AWS SDK's SigV4 signature made with a key as the
/// secret access key). An unknown or closing connection is `410 Gone` with API Gateway's
/// `GoneException` error type, so the SDKs raise the exception backends already handle.
struct ManagementRoutes: Sendable {
    /// API Gateway's limit for one `PostToConnection` payload.
    static let maxPostBytes = 131_072

    /// Connections on every node of the cluster (this node's alone when it has none).
    let connections: ConnectionRouter

    func add(to router: Router<BasicRequestContext>, keys: PublishKeys) {
        let group = router.group("@connections").add(middleware: keys.middleware)
        group.post(":connectionId") { request, context in
            try await answer(context) { id in
                let body = try await RequestBody.collect(request, limit: Self.maxPostBytes)
                guard let text = String(validating: body.readableBytesView, as: UTF8.self) else {
                    throw HTTPRefusal.badRequest("invalid_body", "the data is sent as a text frame and must be UTF-8")
                }
                return try await connections.post(text, to: id) ? Response(status: .ok) : nil
            }
        }
        group.get(":connectionId") { _, context in
            try await answer(context) { id in
                try await connections.snapshot(of: id).map {
                    JSONResponse.make(status: .ok, body: ByteBuffer(bytes: JSON.encode(ConnectionDescription($0))))
                }
            }
        }
        group.delete(":connectionId") { _, context in
            try await answer(context) { id in try await connections.disconnect(id) ? Response(status: .noContent) : nil }
        }
    }

    /// Runs `body` with the path's connection id (decoded; a malformed one is `400` before the body
    /// is read): `410` when it finds no such connection, `503` when the cluster could not be asked.
    private func answer(_ context: BasicRequestContext, _ body: (String) async throws -> Response?) async throws(HTTPRefusal) -> Response {
        let id = try PathParameter.connectionID("connectionId", in: context)
        do {
            guard let response = try await body(id) else { throw Self.gone }
            return response
        } catch let refusal as HTTPRefusal {
            throw refusal
        } catch {
            throw HTTPRefusal.clusterUnavailable
        }
    }

    /// `410 Gone`, typed for the AWS SDKs (`x-amzn-ErrorType: GoneException`).
    static let gone: HTTPRefusal = {
        var refusal = HTTPRefusal(.gone, reason: "gone", message: "no open connection with this id")
        refusal.headers[HTTPField.Name("x-amzn-ErrorType")!] = "GoneException"
        return refusal
    }()
}

/// `GET /@connections/{id}`: API Gateway's `GetConnection` shape, plus `identity.userId`.
private struct ConnectionDescription: Encodable {
    struct Identity: Encodable {
        var sourceIp: String
        var userAgent: String?
        var userId: String
    }

    var connectedAt: String
    var identity: Identity
    var lastActiveAt: String

    init(_ snapshot: ConnectionSnapshot) {
        connectedAt = snapshot.peer.connectedAt.formatted(.iso8601Milliseconds)
        identity = Identity(sourceIp: snapshot.peer.sourceIP, userAgent: snapshot.peer.userAgent, userId: "\(snapshot.userID)")
        lastActiveAt = snapshot.lastActiveAt.formatted(.iso8601Milliseconds)
    }
}
