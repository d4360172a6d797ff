/// Events per second from one source — a connection's messages, an address's handshakes (OPERATIONS.md §2) —
/// as a value: a token bucket that holds one second's worth, refilled continuously. No I/O, no
/// clock of its own: the caller passes the time.
public struct RateLimit: Sendable {
    /// What to do with one event.
    public enum Decision: Equatable, Sendable {
        /// Within the limit: handle it.
        case handle
        /// Over the limit: refuse it (`rate_limited`).
        case refuse
        /// Over the limit for a whole second's worth of events in a row: persistent abuse (a connection closes with 1008).
        case close
    }

    /// Events per second; 0 means no limit.
    public let perSecond: Int
    private var tokens: Double
    /// When the bucket was last refilled (nanoseconds).
    public private(set) var lastRefill: UInt64
    /// Events refused since the last one that was handled.
    private var refusedInARow = 0

    /// - Parameter now: the current time in nanoseconds on a monotonic clock.
    public init(perSecond: Int, now: UInt64) {
        self.perSecond = perSecond
        tokens = Double(perSecond)
        lastRefill = now
    }

    /// An event happened at `now` (nanoseconds, same clock as `init`).
    public mutating func eventOccurred(now: UInt64) -> Decision {
        guard perSecond > 0 else { return .handle }
        let elapsed = Double(now &- lastRefill) / 1e9
        tokens = min(Double(perSecond), tokens + elapsed * Double(perSecond))
        lastRefill = now
        if tokens >= 1 {
            tokens -= 1
            refusedInARow = 0
            return .handle
        }
        refusedInARow += 1
        return refusedInARow > perSecond ? .close : .refuse
    }
}
