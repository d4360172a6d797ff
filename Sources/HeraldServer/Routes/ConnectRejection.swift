public import HTTPTypes
public import Hummingbird
import HeraldCore
import HeraldTokens
import NIOCore

/// A refused request: the HTTP status and the `{"message","reason"}` body of PROTOCOL.md §1 and PROTOCOL.md §6.
public struct ConnectRejection: Error, Equatable, Sendable {
    public var status: HTTPResponse.Status
    public var reason: String
    public var message: String
    /// The token names a key id the JWKS lacks: the decision may change once the key set is refreshed.
    var awaitsKeyRefresh = false

    public init(_ status: HTTPResponse.Status, reason: String, message: String) {
        self.status = status
        self.reason = reason
        self.message = message
    }

    /// A publish request refused whole.
    init(_ refusal: PublishAPI.Refusal) {
        self.init(HTTPResponse.Status(code: refusal.status), reason: refusal.reason, message: refusal.message)
    }

    init(_ rejection: TokenRejection) {
        self.init(.unauthorized, reason: rejection.reason.rawValue, message: rejection.message)
        awaitsKeyRefresh = rejection.unknownKeyID
    }

    static let badSubprotocol = ConnectRejection(.badRequest, reason: "bad_subprotocol", message: ConnectCredentials.Problem.badSubprotocol.message)
    static let badUpgrade = ConnectRejection(
        .badRequest, reason: "bad_upgrade", message: "not a valid WebSocket upgrade request"
    )
    static let originNotAllowed = ConnectRejection(
        .forbidden, reason: "origin_not_allowed", message: "this Origin may not connect"
    )
    static func overCapacity(_ message: String) -> ConnectRejection {
        ConnectRejection(.serviceUnavailable, reason: "over_capacity", message: message)
    }
    static let tooManyHandshakes = ConnectRejection(
        .tooManyRequests, reason: "rate_limited", message: "too many connection attempts from this address; retry in a second"
    )
    static let draining = ConnectRejection(
        .serviceUnavailable, reason: "draining", message: "the server is shutting down; connect to another node"
    )
    /// The other nodes could not be asked about a connection (the cluster's database is unreachable).
    static let clusterUnavailable = ConnectRejection(
        .serviceUnavailable, reason: "broker_unavailable", message: "the other nodes cannot be reached right now; try again"
    )

    /// The JSON error body.
    var body: ByteBuffer {
        var body = JSONObjectWriter(capacity: 64 + message.utf8.count)
        body.add("message", message)
        body.add("reason", reason)
        return body.finish()
    }

    /// The JSON error response.
    public var response: Response { JSONResponse.make(status: status, body: body) }

    /// The JSON error response for a request whose body was not read: it says `Connection: close`,
    /// and the connection is closed once it is written (RFC 9112 §9.6), so the unread body is never read on.
    var closingResponse: Response {
        var response = response
        response.headers[.connection] = "close"
        return response
    }
}
