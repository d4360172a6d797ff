import AsyncHTTPClient
import Foundation
import HeraldClient
import HeraldTokens
import NIOCore

/// `herald serve` as a child process, optionally under a file-descriptor limit (`ulimit -n`), with
/// settings from the environment: for tests that need the server's own figures from
/// `/proc/PID` (CPU time, resident memory, open files) or that push it to its limits. Killed
/// when the test lets go of it without stopping it (a test that failed early).
final class ServeProcess: Sendable {
    let process: HeraldProcess
    let port: Int
    /// Its `ulimit -n`, when it has one.
    let fileLimit: Int?

    private init(process: HeraldProcess, port: Int, fileLimit: Int?) {
        self.process = process
        self.port = port
        self.fileLimit = fileLimit
    }

    deinit {
        if process.isRunning { process.signal(SIGKILL) }
    }

    var pid: Int32 { process.pid }
    var httpURL: String { "http://127.0.0.1:\(port)" }
    var wsURL: String { "ws://127.0.0.1:\(port)/" }

    /// Starts it on a free port of 127.0.0.1 with the test secret and publish key, plus `environment`.
    static func start(fileLimit: Int? = nil, environment: [String: String] = [:]) async throws -> ServeProcess {
        let base = [
            "HERALD_HOST": "127.0.0.1", "HERALD_PORT": "0", "HERALD_JWT_SECRET": TestServer.secret,
            "HERALD_PUBLISH_KEY": TestServer.publishKey, "HERALD_LOG_LEVEL": "info",
        ]
        let limit = fileLimit.map { "ulimit -n \($0) && " } ?? ""
        let process = try HeraldProcess(
            URL(fileURLWithPath: "/bin/sh"),
            ["-c", "\(limit)exec \"$0\" serve", CommandLineTests.binary.path],
            environment: base.merging(environment) { $1 }
        )
        guard let line = await process.line(timeout: .seconds(30)),
            let port = line.wholeMatch(of: /listening on wss?:\/\/127\.0\.0\.1:(\d+)\//).flatMap({ Int($0.1) })
        else {
            process.signal(SIGKILL)
            throw TestFailure("serve did not start: \(await process.standardError())")
        }
        return ServeProcess(process: process, port: port, fileLimit: fileLimit)
    }

    /// SIGTERM, then the exit code (SIGKILL after 15 s).
    @discardableResult
    func stop() async -> Int32 {
        process.signal(SIGTERM)
        return await process.exitCode(killingAfter: .seconds(15))
    }

    /// CPU time the process has used (user and system), from `/proc/PID/stat`.
    var cpuSeconds: Double {
        get throws {
            let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
            // Fields after the command name (which is in parentheses and may hold spaces): utime and stime are the 12th and 13th.
            guard let end = stat.lastIndex(of: ")") else { throw TestFailure("unreadable /proc/\(pid)/stat") }
            let fields = stat[stat.index(after: end)...].split(separator: " ")
            guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else {
                throw TestFailure("unreadable /proc/\(pid)/stat")
            }
            return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
        }
    }

    /// Resident memory (`VmRSS` of `/proc/PID/status`), in bytes.
    var residentBytes: Int {
        get throws {
            let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
                let kib = Int(line.split(separator: " ", omittingEmptySubsequences: true)[1])
            else { throw TestFailure("no VmRSS in /proc/\(pid)/status") }
            return kib * 1024
        }
    }

    /// File descriptors the process has open now.
    var openFiles: Int {
        get throws { try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count }
    }

    /// True once the process has (nearly) all the descriptors of its `ulimit -n` open, or has logged that accept failed for want of one.
    var isAtItsDescriptorLimit: Bool {
        guard let fileLimit else { return false }
        return ((try? openFiles) ?? 0) >= fileLimit - 6 || process.standardErrorSoFar.contains("Accepting paused")
    }

    /// `GET /metrics`, as series (`name{labels}`) → value.
    func metrics() async throws -> [String: Double] {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: httpURL + "/metrics"), timeout: .seconds(10))
        return prometheusSeries(String(buffer: try await response.body.collect(upTo: 1 << 20)))
    }

    func token(user: String) async throws -> String {
        var claims = TokenIssuer.Claims()
        claims.userID = user
        return try await TokenIssuer(secret: TestServer.secret).token(for: claims)
    }
}

/// A Prometheus text exposition as series (`name{labels}`) → value.
func prometheusSeries(_ text: String) -> [String: Double] {
    var series: [String: Double] = [:]
    for line in text.split(separator: "\n") where !line.hasPrefix("#") {
        guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
        series[String(line[..<space])] = value
    }
    return series
}
