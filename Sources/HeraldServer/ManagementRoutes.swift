import Foundation
import HTTPTypes
import HeraldCore
import Hummingbird
import NIOCore

/// API Gateway's Management API (SPEC §5), for backends that call `PostToConnection`,
/// `GetConnection` and `DeleteConnection`: `POST|GET|DELETE /@connections/{connectionId}`,
/// publish-key protected (a Bearer key, or the AWS SDK's SigV4 signature made with a key as the
/// secret access key). An unknown or closing connection is `410 Gone` with API Gateway's
/// `GoneException` error type, so the SDKs raise the exception backends already handle.
struct ManagementRoutes: Sendable {
    /// API Gateway's limit for one `PostToConnection` payload.
    static let maxPostBytes = 131_072

    let directory: ConnectionDirectory

    func add(to router: Router<BasicRequestContext>, keys: PublishKeys) {
        let group = router.group("@connections").add(middleware: keys.middleware)
        group.post(":connectionId") { request, context in
            guard let connection = connection(context) else { return Self.gone }
            let body: ByteBuffer
            switch await RequestBody.collect(request, limit: Self.maxPostBytes) {
            case .failure(let rejection): return rejection.response
            case .success(let collected): body = collected
            }
            guard String(validating: body.readableBytesView, as: UTF8.self) != nil else {
                return ConnectRejection(.badRequest, reason: "invalid_body", message: "the data is sent as a text frame and must be UTF-8").response
            }
            guard try await connection.post(body) else { return Self.gone }
            return Response(status: .ok)
        }
        group.get(":connectionId") { _, context in
            guard let snapshot = try? await connection(context)?.snapshot() else { return Self.gone }
            return JSONResponse.make(status: .ok, body: ByteBuffer(bytes: JSON.encode(ConnectionDescription(snapshot))))
        }
        group.delete(":connectionId") { _, context in
            guard let connection = connection(context), try await connection.disconnect() else { return Self.gone }
            return Response(status: .noContent)
        }
    }

    private func connection(_ context: BasicRequestContext) -> WebSocketConnection? {
        directory.connection(context.parameters.get("connectionId") ?? "")
    }

    /// `410 Gone`, typed for the AWS SDKs (`x-amzn-ErrorType: GoneException`).
    static var gone: Response {
        var response = ConnectRejection(.gone, reason: "gone", message: "no open connection with this id on this node").response
        response.headers[HTTPField.Name("x-amzn-ErrorType")!] = "GoneException"
        return response
    }
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
