public import HTTPTypes
import HeraldCore
import HeraldTokens
public import Hummingbird
import NIOCore

/// Every refused request, in one form: the HTTP status and the `{"message","reason"}` body of
/// PROTOCOL.md §1 and §6. Routes and middleware `throw` it; Hummingbird renders it
/// (`HTTPResponseError`), and the upgrade path writes its `response` itself.
public struct HTTPRefusal: HTTPResponseError, Equatable, Sendable {
    public var status: HTTPResponse.Status
    public var reason: String
    public var message: String
    /// Fields the answer carries besides its content type (e.g. `x-amzn-ErrorType`).
    public var headers: HTTPFields = [:]
    /// The request's body was not (wholly) read: the answer says `Connection: close`, and the
    /// connection is closed once it is written (RFC 9112 §9.6), so the unread body is never read on.
    var closesConnection = false
    /// The token names a key id the JWKS lacks: the decision may change once the key set is refreshed.
    var awaitsKeyRefresh = false

    public init(_ status: HTTPResponse.Status, reason: String, message: String) {
        self.status = status
        self.reason = reason
        self.message = message
    }

    /// `400` with this reason.
    static func badRequest(_ reason: String, _ message: String) -> HTTPRefusal {
        HTTPRefusal(.badRequest, reason: reason, message: message)
    }

    /// The same refusal, answered with `Connection: close` (its body was left unread).
    var closing: HTTPRefusal {
        var refusal = self
        refusal.closesConnection = true
        return refusal
    }

    /// A publish request refused whole.
    init(_ refusal: PublishAPI.Refusal) {
        self.init(HTTPResponse.Status(code: refusal.status), reason: refusal.reason, message: refusal.message)
    }

    init(_ rejection: TokenRejection) {
        self.init(.unauthorized, reason: rejection.reason.rawValue, message: rejection.message)
        awaitsKeyRefresh = rejection.unknownKeyID
    }

    static let badSubprotocol = HTTPRefusal(.badRequest, reason: "bad_subprotocol", message: ConnectCredentials.Problem.badSubprotocol.message)
    static let badUpgrade = HTTPRefusal(
        .badRequest,
        reason: "bad_upgrade",
        message: "not a valid WebSocket upgrade request"
    )
    static let originNotAllowed = HTTPRefusal(
        .forbidden,
        reason: "origin_not_allowed",
        message: "this Origin may not connect"
    )
    static func overCapacity(_ message: String) -> HTTPRefusal {
        HTTPRefusal(.serviceUnavailable, reason: "over_capacity", message: message)
    }
    static let tooManyHandshakes = HTTPRefusal(
        .tooManyRequests,
        reason: "rate_limited",
        message: "too many connection attempts from this address; retry in a second"
    )
    static let draining = HTTPRefusal(
        .serviceUnavailable,
        reason: "draining",
        message: "the server is shutting down; connect to another node"
    )
    /// The other nodes could not be asked about a connection (the cluster's database is unreachable).
    static let clusterUnavailable = HTTPRefusal(
        .serviceUnavailable,
        reason: "broker_unavailable",
        message: "the other nodes cannot be reached right now; try again"
    )

    /// The JSON error body.
    var body: ByteBuffer {
        var body = JSONObjectWriter(capacity: 64 + message.utf8.count)
        body.add("message", message)
        body.add("reason", reason)
        return body.finish()
    }

    /// The JSON error response.
    public var response: Response {
        var response = JSONResponse.make(status: status, body: body)
        response.headers.append(contentsOf: headers)
        if closesConnection { response.headers[.connection] = "close" }
        return response
    }

    public func response(from request: Request, context: some RequestContext) -> Response {
        response
    }
}
