/// Whether a quiet client is still there: the server pings it once per `--ping-interval` it has
/// heard nothing, and gives up once it has heard nothing — no frame, not even a pong — for the
/// idle timeout. One deadline does it (`ConnectionStateMachine.Deadline.ping`), moved only when
/// it is reached, not by every frame. A value; time comes in as uptime nanoseconds.
struct Liveness: Sendable {
    enum Verdict: Equatable, Sendable {
        /// The client was heard within the last interval: look again later.
        case heard
        /// One more quiet interval: ping the client.
        case ping
        /// Quiet for the idle timeout: close it (`1001`).
        case idle
    }

    let pingInterval: Duration
    let idleTimeout: Duration
    /// Whole quiet intervals since the client last sent anything.
    private var quietPeriods = 0
    /// When the client last sent a frame (the upgrade counts).
    private var lastHeard: UInt64

    init(pingInterval: Duration, idleTimeout: Duration, now: UInt64) {
        self.pingInterval = pingInterval
        self.idleTimeout = idleTimeout
        lastHeard = now
    }

    /// The client sent a frame.
    mutating func heard(at now: UInt64) {
        quietPeriods = 0
        lastHeard = now
    }

    /// The first check, one interval from `now`.
    func firstCheck(after now: Moment) -> UInt64 {
        now.uptime(after: pingInterval)
    }

    /// The ping deadline was reached at `now`: what to do, and when to look again.
    mutating func check(at now: Moment) -> (verdict: Verdict, next: UInt64) {
        let interval = UInt64(clamping: max(pingInterval, .zero).inNanoseconds)
        let quietFor = now.uptimeNanoseconds >= lastHeard ? now.uptimeNanoseconds - lastHeard : 0
        guard quietFor >= interval else {
            let (next, overflow) = lastHeard.addingReportingOverflow(interval)
            return (.heard, overflow ? UInt64(Int64.max) : next)
        }
        quietPeriods += 1
        return (pingInterval * quietPeriods >= idleTimeout ? .idle : .ping, now.uptime(after: pingInterval))
    }
}
