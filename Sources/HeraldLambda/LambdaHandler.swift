public import HeraldCore

/// One Lambda function's code: an event in, an answer out, both JSON. A thrown error is reported
/// to Lambda as the invocation's error (for the authorizer, `Unauthorized` is API Gateway's 401).
public protocol LambdaHandler: Sendable {
    func handle(_ event: JSONValue) async throws -> JSONValue
}

/// An error Lambda reports by its message (API Gateway reads an authorizer's `Unauthorized`).
public struct LambdaError: Error, Equatable, CustomStringConvertible {
    public var type: String
    public var message: String

    public init(_ message: String, type: String = "HeraldError") {
        self.message = message
        self.type = type
    }

    /// What an authorizer throws to refuse a connection with `401`.
    public static let unauthorized = LambdaError("Unauthorized", type: "Unauthorized")

    public var description: String { message }
}
