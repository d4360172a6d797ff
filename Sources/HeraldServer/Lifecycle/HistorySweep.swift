import HeraldCore
import HeraldTokens
import Logging
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// Frees history that outlived its age limit and forgets the entities nobody holds any more, on
/// a timer (a publish already evicts its own entity's old events). Stops at graceful shutdown.
///
/// glibc keeps memory that many small allocations gave back in its arenas rather than returning
/// it to the system, so a node that forgot 200,000 entities would stay at its peak resident size;
/// after a sweep that freed much, `malloc_trim(0)` hands the free pages back.
struct HistorySweep: Service {
    let broker: any Broker
    /// Time between sweeps; at least a second.
    let interval: Duration
    let logger: Logger

    /// Forgotten entities and expired events in one sweep from which the free memory is trimmed.
    static let trimThreshold = 1_000

    func run() async {
        let pause = max(interval, .seconds(1))
        await cancelWhenGracefulShutdown {
            while (try? await Task.sleep(for: pause)) != nil {
                let sweep = await broker.evictExpiredHistory()
                guard sweep.forgotten + sweep.expiredEvents >= Self.trimThreshold else { continue }
                Self.returnFreeMemory()
                logger.debug(
                    "Swept the history",
                    metadata: ["herald.history.forgotten": "\(sweep.forgotten)", "herald.history.expired": "\(sweep.expiredEvents)"]
                )
            }
        }
    }

    /// Gives the allocator's free pages back to the system (glibc only; elsewhere nothing to do).
    static func returnFreeMemory() {
        _ = mallocTrim?(0)
    }

    /// glibc's `malloc_trim`, looked up at run time (its header is not part of the Glibc module).
    private static let mallocTrim: (@convention(c) (Int) -> Int32)? = {
        #if canImport(Glibc)
        guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "malloc_trim") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)
        #else
        return nil
        #endif
    }()
}
