/// Why the server closes a connection: the close codes of PROTOCOL.md §5, in one place.
public struct CloseReason: Equatable, Sendable, CustomStringConvertible {
    public var code: UInt16
    public var text: String

    public init(code: UInt16, text: String) {
        self.code = code
        self.text = text
    }

    public var description: String { "\(code) \(text)" }

    /// 1000: normal close.
    public static let normal = CloseReason(code: 1000, text: "normal closure")
    /// 1001: the server is shutting down; reconnect elsewhere and resume.
    public static let goingAway = CloseReason(code: 1001, text: "server shutting down")
    /// 1001: the client answered nothing (not even pongs) for the idle timeout.
    public static let idle = CloseReason(code: 1001, text: "idle timeout")
    /// 1002: a frame that breaks RFC 6455.
    public static let protocolError = CloseReason(code: 1002, text: "protocol error")
    /// 1007: a text message that is not UTF-8.
    public static let invalidText = CloseReason(code: 1007, text: "text message is not valid UTF-8")
    /// 1008: persistent abuse.
    public static let policyViolation = CloseReason(code: 1008, text: "policy violation: too many messages")
    /// 1009: an inbound message over the size limit.
    public static let messageTooBig = CloseReason(code: 1009, text: "message too big")
    /// 1013: the outbound buffer overflowed; reconnect and resume with `since`.
    public static let slowConsumer = CloseReason(code: 1013, text: "slow consumer: outbound buffer exceeded")
    /// 4001: the token expired.
    public static let tokenExpired = CloseReason(code: 4001, text: "token expired")
    /// 4002: the maximum connection lifetime was reached.
    public static let lifetimeReached = CloseReason(code: 4002, text: "lifetime reached")
    /// 4003: an administrator disconnected the client.
    public static let disconnectedByAdmin = CloseReason(code: 4003, text: "disconnected by admin")
}
