import Foundation
import HeraldPostgres
import Logging
import PostgresNIO
import Synchronization

/// A PostgreSQL role with `LOGIN` and nothing else — no privilege on any table — connected to a
/// cluster's database: what any role that may connect to it can do (`LISTEN` and `NOTIFY` check
/// no privilege, and a new database lets `PUBLIC` connect).
final class DatabaseIntruder: Sendable {
    /// The channel its markers go on (see `heardSoFar`).
    private static let markerChannel = "intruder_marker"
    private static let logger = Logger(label: "herald.test.intruder", factory: { _ in SwiftLogNoOpLogHandler() })

    let role: String
    private let connection: PostgresConnection
    private let heard = Mutex<[(channel: String, payload: String)]>([])
    private let markerWaiters = Mutex<[String: CheckedContinuation<Void, Never>]>([:])
    private let listeners = Mutex<[Task<Void, Never>]>([])

    private init(role: String, connection: PostgresConnection) {
        self.role = role
        self.connection = connection
    }

    /// Creates a new role with `LOGIN PASSWORD` only and connects it to `database`.
    static func connect(to database: PostgresURL) async throws -> DatabaseIntruder {
        let role = "intruder_\(UInt64.random(in: 1...UInt64.max))"
        try await TestPostgres.execute([PostgresQuery(unsafeSQL: "CREATE ROLE \(role) LOGIN PASSWORD 'intruder-password'")], in: database)
        let configuration = PostgresConnection.Configuration(
            host: database.host,
            port: database.port,
            username: role,
            password: "intruder-password",
            database: database.database,
            tls: .disable
        )
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 7, logger: logger)
        let intruder = DatabaseIntruder(role: role, connection: connection)
        try await intruder.listen(on: markerChannel)
        return intruder
    }

    /// `LISTEN`s on `channel` from now on (returns once listening).
    func listen(on channel: String) async throws {
        let (started, start) = AsyncStream.makeStream(of: Void.self)
        let task = Task {
            _ = try? await connection.listen(on: channel) { notifications in
                start.yield()
                for try await notification in notifications { self.hear(channel: channel, payload: notification.payload) }
            }
            start.finish()
        }
        listeners.withLock { $0.append(task) }
        for await _ in started { return }
    }

    /// `NOTIFY channel, payload`.
    func notify(_ channel: String, _ payload: String) async throws {
        try await connection.query("SELECT pg_notify(\(channel), \(payload))", logger: Self.logger)
    }

    /// Every notification heard on the channels it listens on, up to now: a marker it notifies
    /// itself comes after everything committed before it, so when it arrives nothing earlier is on its way.
    func heardSoFar() async throws -> [(channel: String, payload: String)] {
        let marker = "marker-\(UInt64.random(in: 1...UInt64.max))"
        await withCheckedContinuation { continuation in
            markerWaiters.withLock { $0[marker] = continuation }
            Task { try? await notify(Self.markerChannel, marker) }
        }
        return heard.withLock { $0 }
    }

    /// A query as this role (to show what it may not read).
    func query(_ query: PostgresQuery) async throws -> [String] {
        var values: [String] = []
        for try await value in try await connection.query(query, logger: Self.logger).decode(String.self) { values.append(value) }
        return values
    }

    func close() async {
        for listener in listeners.withLock({ $0 }) { listener.cancel() }
        try? await connection.close()
    }

    private func hear(channel: String, payload: String) {
        guard channel == Self.markerChannel else { return heard.withLock { $0.append((channel, payload)) } }
        markerWaiters.withLock { $0.removeValue(forKey: payload) }?.resume()
    }
}
