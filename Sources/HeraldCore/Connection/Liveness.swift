/// Whether a quiet client is still there: the server pings it once per read-idle period (of one
/// `--ping-interval`) and gives up once it has heard nothing — no frame, not even a pong — for
/// the idle timeout. A value; the periods are counted by the transport's idle timer.
struct Liveness: Sendable {
    enum Verdict: Equatable, Sendable {
        /// Ping the client.
        case ping
        /// Quiet for the idle timeout: close it (`1001`).
        case idle
    }

    let pingInterval: Duration
    let idleTimeout: Duration
    /// Read-idle periods since the client last sent anything.
    private var quietPeriods = 0

    init(pingInterval: Duration, idleTimeout: Duration) {
        self.pingInterval = pingInterval
        self.idleTimeout = idleTimeout
    }

    /// The client sent a frame.
    mutating func heard() {
        quietPeriods = 0
    }

    /// One more read-idle period passed.
    mutating func periodPassed() -> Verdict {
        quietPeriods += 1
        return pingInterval * quietPeriods >= idleTimeout ? .idle : .ping
    }
}
