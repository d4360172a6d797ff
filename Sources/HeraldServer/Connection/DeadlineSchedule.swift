import HeraldCore

/// A connection's deadlines (`ConnectionStateMachine.Deadline`, event-loop uptime in
/// nanoseconds) on one timer: only the earliest has a timer armed; a later one waits for it to
/// fire. A value-type state machine: the handler arms the timers it hands out (`LoopTimer`) and
/// tells it which one fired.
///
/// A cancelled deadline, or one moved later, leaves its timer to fire and find nothing due (the
/// timer then re-arms for the next one); one moved earlier gets a new timer, and the old one,
/// named by an older generation, is ignored when it fires.
struct DeadlineSchedule {
    typealias Deadline = ConnectionStateMachine.Deadline

    /// A timer to arm: when, and the generation to tell when it fires.
    struct Timer: Equatable {
        let uptimeNanoseconds: UInt64
        let generation: Int
    }

    private var tokenExpiry: UInt64?
    private var lifetime: UInt64?
    private var ping: UInt64?
    private var closeTimeout: UInt64?
    /// When the armed timer fires (nil: none armed), and its generation.
    private var armedAt: UInt64?
    private var generation = 0

    subscript(deadline: Deadline) -> UInt64? {
        get {
            switch deadline {
            case .tokenExpiry: tokenExpiry
            case .lifetime: lifetime
            case .ping: ping
            case .closeTimeout: closeTimeout
            }
        }
        set {
            switch deadline {
            case .tokenExpiry: tokenExpiry = newValue
            case .lifetime: lifetime = newValue
            case .ping: ping = newValue
            case .closeTimeout: closeTimeout = newValue
            }
        }
    }

    /// The timer to arm now, if the earliest deadline has none that fires in time.
    mutating func timerToArm() -> Timer? {
        guard let earliest = Deadline.allCases.compactMap({ self[$0] }).min() else { return nil }
        if let armedAt, armedAt <= earliest { return nil }
        armedAt = earliest
        generation += 1
        return Timer(uptimeNanoseconds: earliest, generation: generation)
    }

    /// The timer of `generation` fired at `now`: the deadlines it reached, earliest first, no
    /// longer set (none for a stale timer). Then ask `timerToArm()`.
    mutating func fired(_ generation: Int, now: UInt64) -> [Deadline] {
        guard generation == self.generation, armedAt != nil else { return [] }
        armedAt = nil
        let reached = Deadline.allCases.compactMap { deadline in self[deadline].flatMap { $0 <= now ? (deadline, $0) : nil } }
            .sorted { $0.1 < $1.1 }.map(\.0)
        for deadline in reached { self[deadline] = nil }
        return reached
    }
}
