import Foundation
import NIOCore
import NIOPosix

/// The event loops every Herald server in this process shares: one thread per core the process
/// may run on. NIO's singleton counts every core of the machine, so a server pinned to one core
/// (`taskset -c 0`) would run two loops on it and switch between them.
enum EventLoops {
    static let group: any EventLoopGroup = MultiThreadedEventLoopGroup(numberOfThreads: usableCores)

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
