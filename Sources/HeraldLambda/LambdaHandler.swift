public import HeraldCore

/// One Lambda function's code: an event in, an answer out, both JSON. A thrown error is reported
/// to Lambda as the invocation's error (for the authorizer, `Unauthorized` is API Gateway's 401).
public protocol LambdaHandler: Sendable {
    func handle(_ event: JSONValue, context: LambdaContext) async throws -> JSONValue
}

/// What the Runtime API says about one invocation besides its event.
public struct LambdaContext: Sendable {
    /// `Lambda-Runtime-Aws-Request-Id`.
    public var requestID: String
    /// When Lambda stops the invocation (`Lambda-Runtime-Deadline-Ms`): work not done by then is
    /// lost, so a handler reports what it could not finish before it.
    public var deadline: ContinuousClock.Instant

    public init(requestID: String, deadline: ContinuousClock.Instant) {
        self.requestID = requestID
        self.deadline = deadline
    }

    /// The deadline `Lambda-Runtime-Deadline-Ms` (milliseconds since 1970) gives, on the clock the
    /// handlers measure with; `nowMilliseconds` is the wall clock's reading at `now`.
    public static func deadline(
        fromEpochMilliseconds deadline: Int64,
        nowMilliseconds: Int64,
        now: ContinuousClock.Instant
    ) -> ContinuousClock.Instant {
        now + .milliseconds(deadline - nowMilliseconds)
    }

    /// Time left before `deadline`, at `now` (negative once it has passed).
    public func remaining(at now: ContinuousClock.Instant = .now) -> Duration { deadline - now }
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
