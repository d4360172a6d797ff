/// When an event happened, as a connection's state machine is told it: the machine reads no
/// clock of its own, so tests drive it in milliseconds and the server's handler reads its event
/// loop's clock (an `EmbeddedEventLoop`'s in tests).
public struct Moment: Equatable, Sendable {
    /// Monotonic time (NIO's uptime clock): deadlines, the rate limit, the hook's remembered answers.
    public var uptimeNanoseconds: UInt64
    /// Wall-clock time in epoch seconds: a token's `exp`, and when the client was last heard (the admin API).
    public var secondsSince1970: Double

    public init(uptimeNanoseconds: UInt64, secondsSince1970: Double) {
        self.uptimeNanoseconds = uptimeNanoseconds
        self.secondsSince1970 = secondsSince1970
    }

    /// The uptime `duration` after this moment, at most `Int64.max` nanoseconds (NIO's distant
    /// future): a long duration never wraps the clock.
    public func uptime(after duration: Duration) -> UInt64 {
        let delay = UInt64(clamping: max(duration, .zero).inNanoseconds)
        let (sum, overflow) = uptimeNanoseconds.addingReportingOverflow(delay)
        return overflow ? UInt64(Int64.max) : min(sum, UInt64(Int64.max))
    }
}
