import Logging
import PostgresNIO

/// The cluster's tables, created and upgraded by whichever node starts first (OPERATIONS.md §13).
///
/// - `herald_meta`: `stream_epoch`, the epoch a stream started now gets (a new one whenever a
///   sweep forgets a stream of the current one), and `epoch`, the one epoch of clusters made
///   before streams had their own.
/// - `herald_streams`: each entity's stream: its latest `seq` (the row lock orders one entity's
///   publishes), its `epoch`, when it was last published to (`published_at`) and last held by a
///   node with subscribers (`held_at`); a row neither for a while is deleted (forgotten).
/// - `herald_events`: each kept event's push, exactly as sent, for resume and catch-up.
/// - `herald_payloads`: notification bodies too large for a notification, for a few minutes.
/// - `herald_nodes`: the live nodes (their heartbeats), whom a question waits for.
enum Schema {
    /// Each migration (a list of statements) runs once, in order, in one transaction under an
    /// advisory lock, so nodes starting together do not race. Append new ones; never edit a shipped one.
    static let migrations: [[PostgresQuery]] = [
        [
            "CREATE TABLE herald_meta (key text PRIMARY KEY, value text NOT NULL)",
            "CREATE TABLE herald_streams (entity_id text PRIMARY KEY, latest_seq bigint NOT NULL)",
            """
            CREATE TABLE herald_events (
                entity_id text NOT NULL,
                seq bigint NOT NULL,
                push text NOT NULL,
                created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
                PRIMARY KEY (entity_id, seq)
            )
            """,
            "CREATE INDEX herald_events_created_at ON herald_events (created_at)",
            """
            CREATE TABLE herald_payloads (
                id bigserial PRIMARY KEY,
                body text NOT NULL,
                created_at timestamptz NOT NULL DEFAULT clock_timestamp()
            )
            """,
        ],
        [
            "CREATE TABLE herald_nodes (node_id text PRIMARY KEY, seen_at timestamptz NOT NULL)"
        ],
        [
            // Each stream's own epoch; streams made before keep the cluster's (their clients' acks said it).
            "ALTER TABLE herald_streams ADD COLUMN epoch text",
            "UPDATE herald_streams SET epoch = (SELECT value FROM herald_meta WHERE key = 'epoch')",
            // A row made without an epoch (by a node of an older version) gets a random one.
            "ALTER TABLE herald_streams ALTER COLUMN epoch SET DEFAULT md5(random()::text)",
            "UPDATE herald_streams SET epoch = DEFAULT WHERE epoch IS NULL",
            "ALTER TABLE herald_streams ALTER COLUMN epoch SET NOT NULL",
            "ALTER TABLE herald_streams ADD COLUMN published_at timestamptz NOT NULL DEFAULT clock_timestamp()",
            "ALTER TABLE herald_streams ADD COLUMN held_at timestamptz NOT NULL DEFAULT clock_timestamp()",
            "CREATE INDEX herald_streams_published_at ON herald_streams (published_at)",
        ],
    ]

    /// Any number, the same on every node: the lock key of migrations.
    private static let lockKey = 0x6865_7261_6c64  // "herald"

    /// Brings the schema up to date and returns the cluster's epoch for new streams (made here,
    /// as `newEpoch`, if it has none).
    static func migrate(_ connection: PostgresConnection, newEpoch: String, logger: Logger) async throws -> String {
        try await connection.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(lockKey))", logger: logger)
            // Checked first: `CREATE TABLE IF NOT EXISTS` needs `CREATE` on the schema even when the
            // table exists, which the nodes' own role (OPERATIONS §13) does not have.
            var hasSchemaTable = false
            for try await exists in try await connection.query("SELECT to_regclass('herald_schema') IS NOT NULL", logger: logger).decode(Bool.self) {
                hasSchemaTable = exists
            }
            if !hasSchemaTable { try await connection.query("CREATE TABLE herald_schema (version integer NOT NULL)", logger: logger) }
            var applied = 0
            for try await version in try await connection.query("SELECT coalesce(max(version), 0) FROM herald_schema", logger: logger)
                .decode(Int.self)
            {
                applied = version
            }
            for (index, migration) in migrations.enumerated() where index + 1 > applied {
                for statement in migration { try await connection.query(statement, logger: logger) }
                try await connection.query("INSERT INTO herald_schema (version) VALUES (\(index + 1))", logger: logger)
                logger.info("Migrated the database", metadata: ["herald.schema.version": "\(index + 1)"])
            }
            try await connection.query(
                "INSERT INTO herald_meta (key, value) VALUES ('stream_epoch', \(newEpoch)) ON CONFLICT (key) DO NOTHING",
                logger: logger
            )
            var epoch = newEpoch
            for try await value in try await connection.query("SELECT value FROM herald_meta WHERE key = 'stream_epoch'", logger: logger)
                .decode(String.self)
            {
                epoch = value
            }
            return epoch
        }
    }
}
