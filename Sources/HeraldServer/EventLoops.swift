import Foundation
import NIOCore
import NIOPosix

/// The event loops every Herald server in this process shares: NIO's singleton group.
///
/// `herald serve` calls `adoptSwiftConcurrency()` first thing, which sizes the group to one thread
/// per core the process may run on (NIO's default counts every core of the machine, so a server
/// pinned to one core would run two loops on it and switch between them) and runs Swift
/// concurrency's jobs on those same threads.
public enum EventLoops {
    static var group: any EventLoopGroup { MultiThreadedEventLoopGroup.singleton }

    /// Sizes the group to `usableCores` and installs it as Swift concurrency's global executor.
    ///
    /// Hummingbird runs each HTTP connection, and its accept loop, as Swift tasks; on the default
    /// executor every accepted socket and every request hops from the event loop's thread to the
    /// concurrency pool's and back. On the event loops' own threads those hops are a queue append
    /// (docs/PERFORMANCE.md has the figures). Call it once, before anything uses the group; it
    /// returns false when the executor could not be installed (the server then runs as before).
    public static func adoptSwiftConcurrency() -> Bool {
        NIOSingletons.groupLoopCountSuggestion = usableCores
        return NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
    }

    /// The cores in this process's affinity mask (Linux's `Cpus_allowed_list`), else all cores.
    static var usableCores: Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed_list:") }),
            let count = cpuCount(inList: line.dropFirst("Cpus_allowed_list:".count)), count > 0
        else { return System.coreCount }
        return count
    }

    /// Counts the cores of a CPU list such as `0-3,8,10-11`.
    static func cpuCount(inList list: Substring) -> Int? {
        var count = 0
        for range in list.split(separator: ",") {
            let bounds = range.split(separator: "-").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard let low = bounds.first, let high = bounds.last, bounds.count <= 2, low <= high else { return nil }
            count += high - low + 1
        }
        return count
    }
}
