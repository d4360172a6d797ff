/// The `code` of an error frame (PROTOCOL.md §2).
public enum ErrorCode: String, Sendable, Equatable {
    case invalidJSON = "invalid_json"
    case unknownAction = "unknown_action"
    case invalidMessage = "invalid_message"
    case invalidEntityID = "invalid_entity_id"
    case subscriptionLimit = "subscription_limit"
    case forbidden
    case rateLimited = "rate_limited"
    case unsupportedFrame = "unsupported_frame"
    case tokenInvalid = "token_invalid"
    case tokenExpired = "token_expired"
}

/// A refused client message: the error frame's code, its human text and the request it answers.
public struct ProtocolError: Error, Equatable, Sendable {
    public var code: ErrorCode
    public var message: String
    public var requestID: JSONValue?

    public init(_ code: ErrorCode, _ message: String, requestID: JSONValue? = nil) {
        self.code = code
        self.message = message
        self.requestID = requestID
    }
}
