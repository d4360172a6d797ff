import HeraldCore
import NIOCore

/// Moments and machines for the state-machine tests: time is whatever the test says it is.
enum MachineFixtures {
    /// The wall clock at uptime zero (epoch seconds).
    static let wallAtStart = 1_800_000_000.0

    /// `milliseconds` after the machine's clock started.
    static func at(_ milliseconds: Int) -> Moment {
        Moment(uptimeNanoseconds: UInt64(milliseconds) * 1_000_000, secondsSince1970: wallAtStart + Double(milliseconds) / 1_000)
    }

    /// Uptime nanoseconds of `milliseconds`.
    static func ns(_ milliseconds: Int) -> UInt64 { UInt64(milliseconds) * 1_000_000 }

    static let configuration = ConnectionStateMachine.Configuration(
        maxMessagesPerSecond: 0,
        pingInterval: .milliseconds(30),
        idleTimeout: .milliseconds(90),
        closeTimeout: .milliseconds(5),
        maxLifetime: .zero,
        tokenLeeway: .zero
    )

    /// A connection of user `u` whose token expires `expiresIn` seconds after the start.
    static func machine(
        _ configuration: ConnectionStateMachine.Configuration = configuration,
        expiresIn: Int = 3_600,
        maxSubscriptions: Int = 10,
        allowedEntities: EntityPatterns? = nil,
        asksHook: Bool = false
    ) -> ConnectionStateMachine {
        let session = SessionStateMachine(
            userID: UserID("u")!,
            maxSubscriptions: maxSubscriptions,
            allowedEntities: allowedEntities,
            asksHook: asksHook
        )
        return ConnectionStateMachine(session: session, expiresAt: Int(wallAtStart) + expiresIn, configuration: configuration, now: at(0))
    }

    static func text(_ string: String) -> ConnectionStateMachine.Event { .textReceived(ByteBuffer(string: string)) }

    static func entity(_ name: String) -> EntityID { EntityID(name)! }

    /// The payloads of the frames the actions write, as text.
    static func written(_ actions: [ConnectionStateMachine.Action]) -> [String] {
        actions.compactMap { if case .write(let frame) = $0 { String(buffer: frame.payload) } else { nil } }
    }

    static func written(_ actions: [SessionStateMachine.Action]) -> [String] {
        actions.compactMap { if case .write(let frame) = $0 { String(buffer: frame.payload) } else { nil } }
    }
}
