public import HeraldCore
import HeraldTokens
public import Logging
public import ServiceLifecycle

/// Makes a node's broker once its hub exists. The executable picks one (`--broker`); the
/// server only sees the `Broker` protocol, so every broker gets the same edge.
public struct BrokerFactory: Sendable {
    /// What the start log line calls it (`memory`, `postgres`).
    public var name: String
    /// Makes the broker for `hub` and returns it with the services it needs running (its
    /// connections, listeners, sweeps), which join the node's service group.
    public var make:
        @Sendable (_ hub: Hub, _ history: EntityHistory.Limits, _ logger: Logger) async throws -> (broker: any Broker, services: [any Service])

    public init(
        name: String,
        make:
            @escaping @Sendable (_ hub: Hub, _ history: EntityHistory.Limits, _ logger: Logger) async throws -> (
                broker: any Broker, services: [any Service]
            )
    ) {
        self.name = name
        self.make = make
    }

    /// The standalone broker: everything in this process.
    public static let memory = BrokerFactory(name: "memory") { hub, history, _ in
        (MemoryBroker(hub: hub, history: history), [])
    }
}
