import Foundation
import HeraldCore
import HeraldServer
import Synchronization
import Testing

/// The README's walkthrough, run as a user would: the real `herald` binary in three processes.
@Suite(.serialized) struct CommandLineTests {
    /// `.build/debug/herald`, which `swift test` builds with the tests.
    static let binary = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appending(path: ".build/debug/herald")

    @Test func walkthroughServeListenPublishThenSIGTERM() async throws {
        let credentials = FileManager.default.temporaryDirectory.appending(path: "herald-dev-\(UUID().uuidString).json")
        let environment = ["HERALD_DEV_CREDENTIALS": credentials.path]
        let serve = try HeraldProcess(Self.binary, ["serve", "--dev", "--port", "0"], environment: environment)
        let listening = try #require(await serve.line(timeout: .seconds(20)))
        #expect(listening.hasPrefix("listening on ws://127.0.0.1:"))
        // The dev banner is complete once the credentials are saved.
        while let line = await serve.line(timeout: .seconds(10)), !line.contains("curl") {}

        let listen = try HeraldProcess(Self.binary, ["listen", "myEntityId"], environment: environment)
        // Publish until the listener has subscribed: each publish before that reaches nobody.
        var push: String?
        for _ in 0..<50 where push == nil {
            let publish = try HeraldProcess(Self.binary, ["publish", "entity", "myEntityId", "--message", "hi"], environment: environment)
            #expect(await publish.exitCode() == 0)
            push = await listen.line(timeout: .milliseconds(200))
        }
        let received = try #require(push.flatMap { JSON.parse($0) })
        #expect(received["type"] == "Entity Updated")
        #expect(received["entityId"] == "myEntityId")
        #expect(received["message"] == "hi")

        serve.signal(SIGTERM)
        #expect(await serve.exitCode() == 0)
        #expect(await listen.exitCode() == 1)  // closed with 1001, not a normal close
        try? FileManager.default.removeItem(at: credentials)
    }

    /// `serve --broker postgres://…`: two node processes share one database; a push published on one reaches a listener on the other.
    @Test func twoServeProcessesShareOneDatabase() async throws {
        let database = try await TestPostgres.freshDatabase()
        let secret = "cluster-secret-0123456789abcdef-0123456789abcdef"
        let environment = [
            "HERALD_JWT_SECRET": secret, "HERALD_PUBLISH_KEY": "cluster-key", "HERALD_BROKER": "\(database)", "HERALD_HOST": "127.0.0.1",
            "HERALD_CLUSTER_SECRET": "the-nodes-secret-0123456789abcdef-0123456789",
        ]
        var urls: [String] = []
        var nodes: [HeraldProcess] = []
        for _ in 0..<2 {
            let node = try HeraldProcess(Self.binary, ["serve", "--port", "0"], environment: environment)
            let listening = try #require(await node.line(timeout: .seconds(20)))
            let port = try #require(listening.wholeMatch(of: /listening on ws:\/\/127\.0\.0\.1:(\d+)\//)?.1)
            urls.append("http://127.0.0.1:\(port)")
            nodes.append(node)
        }
        let listen = try HeraldProcess(Self.binary, ["listen", "order-7", "--url", urls[0]], environment: environment)
        var push: String?
        for _ in 0..<50 where push == nil {
            let publish = try HeraldProcess(
                Self.binary,
                ["publish", "entity", "order-7", "--message", "across", "--url", urls[1]],
                environment: environment
            )
            #expect(await publish.exitCode() == 0)
            push = await listen.line(timeout: .milliseconds(300))
        }
        let received = try #require(push.flatMap { JSON.parse($0) })
        #expect(received["entityId"] == "order-7" && received["message"] == "across")
        for node in nodes {
            node.signal(SIGTERM)
            #expect(await node.exitCode() == 0)
            #expect(await node.standardError().contains("herald.broker=postgres"))
        }
        _ = await listen.exitCode()
    }

    /// The saved dev credentials hold the publish key: their folder is 0700 and the file 0600 whatever the umask.
    @Test func devCredentialsArePrivateToTheirOwner() async throws {
        let directory = FileManager.default.temporaryDirectory.appending(path: "herald-private-\(UUID().uuidString)")
        let credentials = directory.appending(path: "dev/credentials.json")
        let serve = try HeraldProcess(
            URL(fileURLWithPath: "/bin/sh"),
            ["-c", "umask 000; exec \"$0\" serve --dev --port 0", Self.binary.path],
            environment: ["HERALD_DEV_CREDENTIALS": credentials.path]
        )
        #expect(await serve.line(timeout: .seconds(20))?.hasPrefix("listening on ws://127.0.0.1:") == true)
        while let line = await serve.line(timeout: .seconds(10)), !line.contains("curl") {}
        serve.signal(SIGTERM)
        #expect(await serve.exitCode() == 0)
        func mode(_ url: URL) throws -> Int { try (FileManager.default.attributesOfItem(atPath: url.path)[.posixPermissions] as? Int) ?? -1 }
        #expect(try mode(directory) == 0o700)
        #expect(try mode(credentials.deletingLastPathComponent()) == 0o700)
        #expect(try mode(credentials) == 0o600)
        let saved = try #require(JSON.parse(Array(try Data(contentsOf: credentials))))
        #expect(saved["publishKey"] != nil)
        try? FileManager.default.removeItem(at: directory)
    }

    @Test func clientCommandsFailWithOneLineReasons() async throws {
        let environment = ["HERALD_DEV_CREDENTIALS": "/nonexistent/herald.json"]
        let unreachable = try HeraldProcess(
            Self.binary,
            ["publish", "entity", "e", "--message", "m", "--url", "http://127.0.0.1:1", "--publish-key", "k"],
            environment: environment
        )
        let started = ContinuousClock.now
        #expect(await unreachable.exitCode() != 0)
        #expect(ContinuousClock.now - started < .seconds(5), "a refused connection is reported at once, not after the request timeout")
        #expect(await unreachable.standardError().contains("cannot reach Herald at http://127.0.0.1:1: connection refused"))
        let noKey = try HeraldProcess(Self.binary, ["serve", "--port", "0"], environment: environment)
        #expect(await noKey.exitCode() != 0)
        #expect(await noKey.standardError().contains("no token key"))
        let badPort = try HeraldProcess(Self.binary, ["serve", "--dev", "--port", "http"], environment: environment)
        #expect(await badPort.exitCode() != 0)
        #expect(await badPort.standardError().contains("--port"))
    }

    /// A database URL serve cannot use stops it with one line naming the setting in all its spellings.
    @Test func aBrokerURLThatCannotBeUsedIsRefusedNamingTheSetting() async throws {
        let serve = try HeraldProcess(
            Self.binary,
            [
                "serve", "--port", "0", "--jwt-secret", TestServer.secret, "--publish-key", "k", "--broker", "postgres://h/d",
                "--cluster-secret", String(repeating: "s", count: 32),
            ],
            environment: ["HERALD_DEV_CREDENTIALS": "/nonexistent/herald.json"]
        )
        #expect(await serve.exitCode() != 0)
        let error = await serve.standardError()
        #expect(
            error.contains(
                "invalid value for --broker (HERALD_BROKER, or `broker` in the config file): the URL names no user; expected postgres://user:password@host:5432/database"
            ),
            "\(error)"
        )
    }

    /// `listen` refused at the upgrade says why, in the server's words; `bench` whose publishes are refused fails.
    @Test func refusalsReachTheCommandLine() async throws {
        let server = try await TestServer.start()
        let environment = ["HERALD_DEV_CREDENTIALS": "/nonexistent/herald.json"]
        let listen = try HeraldProcess(Self.binary, ["listen", "e", "--token", "not-a-token", "--url", server.httpURL], environment: environment)
        #expect(await listen.exitCode() != 0)
        let listenError = await listen.standardError()
        #expect(listenError.contains("HTTP 401 token_invalid: "), "\(listenError)")
        let bench = try HeraldProcess(
            Self.binary,
            [
                "bench", "--connections", "2", "--rate", "5", "--duration", "1s", "--url", server.httpURL, "--jwt-secret", TestServer.secret,
                "--publish-key", "wrong-key",
            ],
            environment: environment
        )
        #expect(await bench.exitCode() != 0)
        let benchError = await bench.standardError()
        #expect(benchError.contains("publishes refused (HTTP 401 ×"), "\(benchError)")
        try await server.stop()
    }

    /// `serve --config`: the file's settings apply under the flags; a bad file stops serve with one line naming the key.
    @Test func serveReadsAConfigFileAndRefusesABadOne() async throws {
        let directory = FileManager.default.temporaryDirectory.appending(path: "herald-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let good = directory.appending(path: "herald.yaml")
        try "host: 127.0.0.1\nport: 1\njwt-secret: config-file-secret-0123456789abcdef\npublish-key: [k]\nlog-format: json\n"
            .write(to: good, atomically: true, encoding: .utf8)
        // The flag --port 0 wins over the file's port 1.
        let serve = try HeraldProcess(Self.binary, ["serve", "--config", good.path, "--port", "0"], environment: [:])
        let listening = try #require(await serve.line(timeout: .seconds(20)))
        #expect(listening.hasPrefix("listening on ws://127.0.0.1:"))
        #expect(!listening.hasSuffix(":1/"))
        serve.signal(SIGTERM)
        #expect(await serve.exitCode() == 0)
        let logs = await serve.standardError().split(separator: "\n")
        #expect(!logs.isEmpty && logs.allSatisfy { JSON.parse(String($0)) != nil }, "log-format json from the file")

        let bad = directory.appending(path: "bad.yaml")
        try "port: 8080\nmax-conections: 5\n".write(to: bad, atomically: true, encoding: .utf8)
        let refused = try HeraldProcess(Self.binary, ["serve", "--dev", "--config", bad.path], environment: [:])
        #expect(await refused.exitCode() != 0)
        let reason = await refused.standardError()
        #expect(reason.contains("bad.yaml (line 2): unknown setting `max-conections`"), "\(reason)")
        let badValue = try HeraldProcess(Self.binary, ["serve", "--dev"], environment: ["HERALD_CONFIG": good.path, "HERALD_LOG_FORMAT": "xml"])
        #expect(await badValue.exitCode() != 0)
        #expect(await badValue.standardError().contains("--log-format"))
        try? FileManager.default.removeItem(at: directory)
    }

    /// The client commands read the configuration `serve` reads: with the secret, the publish key, the host
    /// and the port only in the config file, `listen` and `publish` find the server and `token` signs.
    @Test func clientCommandsReadServesConfigFile() async throws {
        let directory = FileManager.default.temporaryDirectory.appending(path: "herald-client-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appending(path: "herald.yaml")
        let port = try freePort()
        try "host: 127.0.0.1\nport: \(port)\njwt-secret: client-config-secret-0123456789abcdef\npublish-key: [file-key]\n"
            .write(to: file, atomically: true, encoding: .utf8)
        // No dev credentials and no HERALD_* variables: only the file can tell.
        let environment = ["HERALD_DEV_CREDENTIALS": directory.appending(path: "none.json").path]
        let serve = try HeraldProcess(Self.binary, ["serve", "--config", file.path], environment: environment)
        #expect(await serve.line(timeout: .seconds(20)) == "listening on ws://127.0.0.1:\(port)/")

        let token = try HeraldProcess(Self.binary, ["token", "--config", file.path], environment: environment)
        #expect(await token.exitCode() == 0)
        let listen = try HeraldProcess(Self.binary, ["listen", "configured", "--config", file.path], environment: environment)
        var push: String?
        for _ in 0..<50 where push == nil {
            let publish = try HeraldProcess(
                Self.binary,
                ["publish", "entity", "configured", "--message", "from-file"],
                environment: environment.merging(["HERALD_CONFIG": file.path]) { $1 }
            )
            #expect(await publish.exitCode() == 0)
            push = await listen.line(timeout: .milliseconds(200))
        }
        #expect(push.flatMap { JSON.parse($0) }?["message"] == "from-file")
        let noSecret = try HeraldProcess(Self.binary, ["token"], environment: environment)
        #expect(await noSecret.exitCode() != 0)
        #expect(await noSecret.standardError().contains("jwt-secret in the --config file"))
        serve.signal(SIGTERM)
        #expect(await serve.exitCode() == 0)
    }

    /// Every setting a config file accepts is also a flag of `serve` (one name for each, OPERATIONS.md §2).
    @Test func everySettingIsAServeFlag() async throws {
        let help = try HeraldProcess(Self.binary, ["serve", "--help"], environment: [:])
        #expect(await help.exitCode() == 0)
        var text = ""
        while let line = await help.line(timeout: .milliseconds(200)) { text += line + "\n" }
        for setting in Setting.all {
            #expect(text.contains("--\(setting.name) <value>"), "--\(setting.name) is not in serve --help")
        }
    }
}

/// A child process whose stdout is read line by line with bounded waits.
final class HeraldProcess: Sendable {
    private let process: Process
    private let buffer = LineBuffer()
    /// Everything written to stderr so far, read as it comes (a child that logs much never blocks on a full pipe).
    private let errors = ErrorBuffer()

    init(_ binary: URL, _ arguments: [String], environment: [String: String]) throws {
        let process = Process()
        let output = Pipe()
        process.executableURL = binary
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let errorOutput = Pipe()
        process.standardOutput = output
        process.standardError = errorOutput
        self.process = process
        let errors = self.errors
        errorOutput.fileHandleForReading.readabilityHandler = { handle in
            let chunk = handle.availableData
            if chunk.isEmpty { handle.readabilityHandler = nil }
            errors.state.withLock { state in
                if chunk.isEmpty { state.ended = true } else { state.data.append(chunk) }
            }
        }
        let buffer = self.buffer
        output.fileHandleForReading.readabilityHandler = { handle in
            let chunk = handle.availableData
            if chunk.isEmpty { handle.readabilityHandler = nil }
            buffer.state.withLock { state in
                state.pending.append(chunk)
                while let newline = state.pending.firstIndex(of: UInt8(ascii: "\n")) {
                    state.lines.append(String(decoding: state.pending[..<newline], as: UTF8.self))
                    state.pending.removeSubrange(...newline)
                }
            }
        }
        try process.run()
    }

    /// The next stdout line, or nil when none is complete within `timeout`.
    func line(timeout: Duration) async -> String? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let line = buffer.state.withLock({ $0.lines.isEmpty ? nil : $0.lines.removeFirst() }) { return line }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return nil
    }

    func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

    /// The child's process id.
    var pid: Int32 { process.processIdentifier }

    var isRunning: Bool { process.isRunning }

    /// True when it ended by a signal (a trap, a kill), not by exiting.
    var endedBySignal: Bool { !process.isRunning && process.terminationReason == .uncaughtSignal }

    /// What the child wrote to stderr up to now.
    var standardErrorSoFar: String { errors.state.withLock { String(decoding: $0.data, as: UTF8.self) } }

    /// Waits (at most `limit`, then kills it) for the exit code.
    func exitCode(killingAfter limit: Duration = .seconds(30)) async -> Int32 {
        let deadline = ContinuousClock.now + limit
        while process.isRunning {
            if ContinuousClock.now > deadline { signal(SIGKILL) }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return process.terminationStatus
    }

    func standardError() async -> String {
        _ = await exitCode()
        // The rest of the output, for at most 2 s after the exit (a child it left running may hold the pipe open).
        let drained = ContinuousClock.now + .seconds(2)
        while !errors.state.withLock({ $0.ended }), ContinuousClock.now < drained { try? await Task.sleep(for: .milliseconds(10)) }
        return standardErrorSoFar
    }
}

/// Standard error read so far, and whether it has ended.
private final class ErrorBuffer: Sendable {
    let state = Mutex<(data: Data, ended: Bool)>((Data(), false))
}

/// Complete lines read so far, and the incomplete tail.
private final class LineBuffer: Sendable {
    let state = Mutex<(pending: Data, lines: [String])>((Data(), []))
}
