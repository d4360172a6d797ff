/// How AWS calls are retried, as the AWS SDKs' standard mode retries them: a call that failed for
/// a passing reason (throttled, a 5xx, a connection that broke or timed out — a pooled connection
/// that died while Lambda froze the process, say) is tried again after a random wait of up to
/// `base · 2ⁿ` (at most `cap`), "full jitter", so that many callers throttled at once do not come
/// back at once; other failures are not retried.
public struct RetryPolicy: Sendable {
    /// Tries in all, the first included.
    public var attempts: Int
    public var base: Duration
    public var cap: Duration

    public init(attempts: Int = 4, base: Duration = .milliseconds(50), cap: Duration = .seconds(1)) {
        self.attempts = attempts
        self.base = base
        self.cap = cap
    }

    /// One try only (for the tests of what a failure does).
    public static let never = RetryPolicy(attempts: 1)

    /// The wait before try `retry` + 1 (the first retry is 1), given a random fraction in 0..<1.
    public func delay(beforeRetry retry: Int, fraction: Double) -> Duration {
        let ceiling = min(cap, base * (1 << min(retry - 1, 20)))
        return ceiling * max(0, min(fraction, 1))
    }

    /// The error types AWS services answer a throttled call with (in a 400 as well as a 429).
    static let throttlingTypes: Set<String> = [
        "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException", "TooManyRequestsException",
        "ProvisionedThroughputExceededException", "TransactionInProgressException", "RequestLimitExceeded",
        "BandwidthLimitExceeded", "LimitExceededException", "RequestThrottled", "SlowDown", "PriorRequestNotComplete",
        "EC2ThrottledException",
    ]

    /// True when an answer with this status and error type is worth another try.
    static func isPassing(status: Int, type: String?) -> Bool {
        status == 429 || status >= 500 || (status == 400 && type.map(throttlingTypes.contains) == true)
    }
}
