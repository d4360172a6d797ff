import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// CPU time and resident memory of a process, read from `/proc` (Linux only; elsewhere nil).
struct ProcessSample: Sendable {
    /// utime + stime, in seconds.
    var cpuSeconds: Double
    /// VmRSS, in bytes.
    var rssBytes: Int

    /// Reads `/proc/PID/stat` (fields 14 and 15, in clock ticks) and `/proc/PID/status` (VmRSS).
    static func read(pid: Int32) -> ProcessSample? {
        guard let stat = readText("/proc/\(pid)/stat"), let status = readText("/proc/\(pid)/status"),
            let cpu = cpuSeconds(stat: stat), let rss = rssBytes(status: status)
        else { return nil }
        return ProcessSample(cpuSeconds: cpu, rssBytes: rss)
    }

    /// utime + stime from the text of `/proc/PID/stat`. The command name (field 2) may hold spaces
    /// and parentheses, so fields are counted from the last `)`.
    static func cpuSeconds(stat: String) -> Double? {
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state); utime is field 14, stime field 15.
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / clockTicksPerSecond
    }

    /// VmRSS from the text of `/proc/PID/status`.
    static func rssBytes(status: String) -> Int? {
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            guard parts.count >= 2, let kilobytes = Int(parts[1]) else { return nil }
            return kilobytes * 1024
        }
        return nil
    }

    private static let clockTicksPerSecond: Double = {
        #if canImport(Glibc)
        let ticks = sysconf(Int32(_SC_CLK_TCK))
        return ticks > 0 ? Double(ticks) : 100
        #else
        return 100
        #endif
    }()

    private static func readText(_ path: String) -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
            if count <= 0 { break }
            bytes += chunk[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// The generator's own resources: CPU time (getrusage, microsecond resolution), the cores it may
/// run on, and its open-file limit.
enum SelfResources {
    /// User + system CPU seconds of this process so far.
    static func cpuSeconds() -> Double {
        var usage = rusage()
        #if canImport(Glibc)
        let who = __rusage_who_t(RUSAGE_SELF.rawValue)
        #else
        let who = RUSAGE_SELF
        #endif
        guard getrusage(who, &usage) == 0 else { return 0 }
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1_000_000 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    /// Cores this process may run on (sched_getaffinity and cgroup quota, as NIO counts them).
    static var cores: Int { max(1, System.coreCount) }

    /// Raises the soft open-file limit as far as needed (up to the hard limit); throws when even the
    /// hard limit is below `needed`.
    static func ensureFileLimit(_ needed: Int) throws(BenchError) {
        #if canImport(Glibc) || canImport(Darwin)
        var limit = rlimit()
        #if canImport(Glibc)
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        #else
        let resource = RLIMIT_NOFILE
        #endif
        guard getrlimit(resource, &limit) == 0 else { return }
        if limit.rlim_cur >= rlim_t(needed) { return }
        guard limit.rlim_max >= rlim_t(needed) else {
            throw BenchError(
                .resourceLimit,
                "needs \(needed) open files but the hard limit is \(limit.rlim_max); lower --connections or raise `ulimit -Hn`"
            )
        }
        limit.rlim_cur = limit.rlim_max
        guard setrlimit(resource, &limit) == 0 else {
            throw BenchError(.resourceLimit, "cannot raise the open-file limit to \(needed)")
        }
        #endif
    }
}
