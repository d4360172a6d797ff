import HeraldCore
import PostgresNIO

/// How the cluster forgets streams (PROTOCOL.md §4, OPERATIONS.md §13), on every node's sweep.
///
/// A node marks the streams it has subscribers for as held (`held_at`, one statement per
/// 10,000, skipping rows held within half the grace period). A row nobody published to within the TTL (so it keeps no event) and nobody held
/// within `holdGrace` — longer than two sweeps, so a node with subscribers has held it in that
/// time — is deleted with its events. Then each node forgets its idle copies of the streams
/// the database no longer has. A stream started again must not get its old run's epoch: before
/// a row of the current epoch for new streams is deleted, that epoch is replaced (and committed),
/// so such rows go one sweep later.
extension PostgresBroker {
    /// Entity ids per statement when a sweep names them.
    static let idsPerStatement = 10_000

    /// How long a row may go unheld before it may be deleted: three sweeps.
    var holdGrace: Duration { history.sweepInterval * 3 }

    /// Marks the streams this node has subscribers for as held now. A row held within half the
    /// grace period (by this node or another) is left alone: it is still held at least every two
    /// sweeps, and a stream many nodes hold is written once, not once per node.
    func holdSubscribedStreams() async throws {
        let fresh = holdGrace.inSeconds / 2
        for ids in Self.chunks(of: streams.hub.subscribedEntities().map(\.rawValue)) where !ids.isEmpty {
            try await client.query(
                """
                UPDATE herald_streams SET held_at = clock_timestamp()
                WHERE entity_id = ANY(\(ids)) AND held_at < clock_timestamp() - make_interval(secs => \(fresh))
                """,
                logger: logger
            )
        }
    }

    /// Deletes the rows and events of streams nobody published to nor held for long enough.
    func forgetUnheldStreams() async throws {
        let (ttl, grace) = (history.ttl.inSeconds, holdGrace.inSeconds)
        try await client.query(
            """
            UPDATE herald_meta AS m SET value = \(EntityHistory.newEpoch()) WHERE m.key = 'stream_epoch' AND EXISTS (
                SELECT 1 FROM herald_streams AS s WHERE s.epoch = m.value
                AND s.published_at < clock_timestamp() - make_interval(secs => \(ttl))
                AND s.held_at < clock_timestamp() - make_interval(secs => \(grace))
            )
            """,
            logger: logger
        )
        // A publish that races the delete finds the row changed (published_at) and keeps it.
        try await client.query(
            """
            WITH gone AS (
                DELETE FROM herald_streams
                WHERE published_at < clock_timestamp() - make_interval(secs => \(ttl))
                AND held_at < clock_timestamp() - make_interval(secs => \(grace))
                AND epoch <> (SELECT value FROM herald_meta WHERE key = 'stream_epoch')
                RETURNING entity_id
            )
            DELETE FROM herald_events AS e USING gone WHERE e.entity_id = gone.entity_id
            """,
            logger: logger
        )
    }

    /// Learns the epoch new streams get now, and forgets this node's idle streams whose rows are
    /// gone; returns how many it forgot.
    func forgetWhatTheDatabaseForgot() async throws -> Int {
        var gone: [EntityID] = []
        var epoch: String?
        for ids in Self.chunks(of: streams.idleEntities().map(\.rawValue)) {
            let rows = try await client.query(
                """
                SELECT (SELECT value FROM herald_meta WHERE key = 'stream_epoch'), ARRAY(
                    SELECT id FROM unnest(\(ids)::text[]) AS id WHERE NOT EXISTS (SELECT 1 FROM herald_streams WHERE entity_id = id)
                )
                """,
                logger: logger
            )
            for try await (current, missing) in rows.decode((String, [String]).self) {
                epoch = current
                gone += missing.compactMap(EntityID.init)
            }
        }
        if let epoch { streams.startNewStreams(under: epoch) }
        return streams.forget(gone)
    }

    /// `ids` in runs of `idsPerStatement` (one empty run when there are none).
    private static func chunks(of ids: [String]) -> [[String]] {
        stride(from: 0, to: max(ids.count, 1), by: idsPerStatement).map { Array(ids[$0..<min($0 + idsPerStatement, ids.count)]) }
    }
}
