/// When a connection acts on its token's expiry (closed `4001` at `exp` + leeway), as a
/// timer delay that is always representable: a far `exp` (the year 9999) is waited for in steps
/// of at most `longestStep`, each ending in a new timer instead of a close.
public struct ExpiryTimer: Equatable, Sendable {
    /// The longest single wait.
    public static let longestStep: Duration = .seconds(86_400)

    /// How long to wait, from zero to `longestStep`.
    public var delay: Duration
    /// True when the token has expired once `delay` has passed (close); false when the timer only
    /// ends one step of a longer wait (schedule again).
    public var expires: Bool

    public init(delay: Duration, expires: Bool) {
        self.delay = delay
        self.expires = expires
    }

    /// - Parameters:
    ///   - expiresAt: the token's `exp` in epoch seconds.
    ///   - leeway: the clock skew allowed after `exp`.
    ///   - now: the current time in epoch seconds.
    public init(expiresAt: Int, leeway: Duration, now: Double) {
        let remaining = Double(expiresAt) + leeway.inSeconds - now
        let longest = Self.longestStep.inSeconds
        // NaN and infinities compare false: they become the longest step, never an Int64 trap.
        guard remaining < longest else {
            self.delay = Self.longestStep
            self.expires = false
            return
        }
        self.delay = .nanoseconds(Int64(max(remaining, 0) * 1e9))
        self.expires = true
    }
}
