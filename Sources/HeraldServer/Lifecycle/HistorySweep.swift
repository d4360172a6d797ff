import HeraldCore
import HeraldTokens
import ServiceLifecycle

/// Frees history that outlived its age limit, on a timer, for entities nobody publishes to any more
/// (a publish already evicts its own entity's old events). Stops at graceful shutdown.
struct HistorySweep: Service {
    let broker: any Broker
    /// Time between sweeps; at least a second.
    let interval: Duration

    func run() async {
        let pause = max(interval, .seconds(1))
        await cancelWhenGracefulShutdown {
            while (try? await Task.sleep(for: pause)) != nil {
                await broker.evictExpiredHistory()
            }
        }
    }
}
