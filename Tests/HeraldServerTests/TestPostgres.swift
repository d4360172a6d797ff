import Foundation
import HeraldPostgres
import Logging
import PostgresNIO

/// A PostgreSQL server for the cluster tests, started once per test process on 127.0.0.1 and a
/// free port, and a fresh database for each test.
///
/// With `HERALD_TEST_POSTGRES_URL` set (`postgres://user@host:port/db`), that server is used.
/// Otherwise Debian's `postgresql` package must be installed (`.ci/run` installs it): the
/// tests make a throw-away cluster in a temporary folder (run as the `postgres` user when the
/// tests run as root), and a watcher stops it and removes the folder once this process is gone.
enum TestPostgres {
    /// Where the server is and whom to connect as.
    struct Server: Sendable {
        var host: String
        var port: Int
        var username: String
        var password: String?
        var adminDatabase: String
    }

    private static let server = Task { try await start() }
    private static let logger = Logger(label: "herald.test.postgres", factory: { _ in SwiftLogNoOpLogHandler() })

    /// A new, empty database on the test server.
    static func freshDatabase() async throws -> PostgresURL {
        let server = try await server.value
        let name = "herald_test_\(UInt64.random(in: 1...UInt64.max))"
        try await withAdminConnection(server) { connection in
            try await connection.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: logger)
        }
        let password = server.password.map { ":\($0)" } ?? ""
        return try PostgresURL("postgres://\(server.username)\(password)@\(server.host):\(server.port)/\(name)?sslmode=disable")
    }

    /// Ends every connection to `database` (what a database restart or a network cut does to the nodes).
    static func terminateConnections(to database: PostgresURL) async throws {
        try await withAdminConnection(try await server.value) { connection in
            try await connection.query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = \(database.database) AND pid <> pg_backend_pid()",
                logger: logger
            )
        }
    }

    /// Runs `statements` in `database` itself, as the nodes' own connections would.
    static func execute(_ statements: [PostgresQuery], in database: PostgresURL) async throws {
        let server = try await server.value
        var inDatabase = server
        inDatabase.adminDatabase = database.database
        try await withAdminConnection(inDatabase) { connection in
            for statement in statements { try await connection.query(statement, logger: logger) }
        }
    }

    /// The first column of every row `query` returns in `database`, as text.
    static func column(_ query: PostgresQuery, in database: PostgresURL) async throws -> [String] {
        let server = try await server.value
        var inDatabase = server
        inDatabase.adminDatabase = database.database
        var values: [String] = []
        try await withAdminConnection(inDatabase) { connection in
            for try await value in try await connection.query(query, logger: logger).decode(String.self) { values.append(value) }
        }
        return values
    }

    /// Drops `database`, ending its connections: the nodes that use it can no longer reach it.
    static func drop(_ database: PostgresURL) async throws {
        try await withAdminConnection(try await server.value) { connection in
            try await connection.query(PostgresQuery(unsafeSQL: "DROP DATABASE \(database.database) WITH (FORCE)"), logger: logger)
        }
    }

    private static func withAdminConnection(_ server: Server, _ body: (PostgresConnection) async throws -> Void) async throws {
        let configuration = PostgresConnection.Configuration(
            host: server.host,
            port: server.port,
            username: server.username,
            password: server.password,
            database: server.adminDatabase,
            tls: .disable
        )
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
        defer { Task { try? await connection.close() } }
        try await body(connection)
    }

    private static func start() async throws -> Server {
        if let text = ProcessInfo.processInfo.environment["HERALD_TEST_POSTGRES_URL"] {
            let url = try PostgresURL(text)
            return Server(host: url.host, port: url.port, username: url.username, password: url.password, adminDatabase: url.database)
        }
        guard let bin = installedBinaries() else {
            throw TestFailure(
                "the cluster tests need PostgreSQL: apt-get install postgresql (.ci/run does), or set HERALD_TEST_POSTGRES_URL"
            )
        }
        let asRoot = getuid() == 0
        let folder = FileManager.default.temporaryDirectory.appending(path: "herald-test-pg-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        if asRoot { try await run("/bin/chown", ["postgres:postgres", folder]) }
        // initdb and postgres refuse to run as root.
        func asOwner(_ command: String, _ arguments: [String]) -> (String, [String]) {
            asRoot ? ("/usr/sbin/runuser", ["-u", "postgres", "--", command] + arguments) : (command, arguments)
        }
        let initdb = asOwner("\(bin)/initdb", ["-D", "\(folder)/data", "-U", "herald", "-A", "trust", "-E", "UTF8", "--no-sync"])
        try await run(initdb.0, initdb.1)
        let port = try freePort()
        let process = try startWatched(
            """
            "\(bin)/postgres" -D "\(folder)/data" -k "\(folder)" -p \(port) -c listen_addresses=127.0.0.1 \
              -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 >"\(folder)/log" 2>&1
            """,
            stoppedWith: "INT",
            thenRun: #"rm -rf "\#(folder)""#,
            as: asRoot ? "postgres" : nil
        )
        let server = Server(host: "127.0.0.1", port: port, username: "herald", password: nil, adminDatabase: "postgres")
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            do {
                try await withAdminConnection(server) { _ in }
                return server
            } catch {
                guard ContinuousClock.now < deadline, process.isRunning else {
                    let log = (try? String(contentsOfFile: "\(folder)/log", encoding: .utf8)) ?? ""
                    throw TestFailure("the test PostgreSQL did not start: \(error)\n\(log)")
                }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    /// The newest `/usr/lib/postgresql/N/bin` with `initdb` and `postgres` in it.
    private static func installedBinaries() -> String? {
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        return versions.compactMap(Int.init).sorted().reversed().map { "/usr/lib/postgresql/\($0)/bin" }
            .first { FileManager.default.isExecutableFile(atPath: "\($0)/initdb") }
    }

    private static func run(_ command: String, _ arguments: [String]) async throws {
        let (status, _, errors) = try await runToEnd(command, arguments)
        guard status == 0 else { throw TestFailure("\(command) \(arguments.joined(separator: " ")) failed: \(errors)") }
    }
}
