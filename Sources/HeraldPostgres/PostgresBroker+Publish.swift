import HeraldCore
import PostgresNIO

/// The publish statements: each event is numbered, kept and announced in one statement.
extension PostgresBroker {
    /// Runs each event's statement on `connection`, in order.
    func publish(_ events: [Event], time: String, on connection: PostgresConnection) async throws -> [PublishReceipt] {
        var receipts: [PublishReceipt] = []
        for event in events {
            let eventID = EventID.next()
            switch event {
            case .entityUpdated(let update):
                receipts.append(PublishReceipt(eventID: eventID, seq: try await publish(update, id: eventID, time: time, on: connection)))
            case .userNotification(let notification):
                try await publish(notification, id: eventID, time: time, on: connection)
                receipts.append(PublishReceipt(eventID: eventID, seq: nil))
            }
        }
        return receipts
    }

    /// Numbers, keeps and announces an entity update; returns its `seq`.
    ///
    /// The push is cut at its `seq` (`Push.entityUpdated(_:id:time:)`) and joined in the
    /// database around the number it hands out, so the kept push and the announced one are
    /// the bytes every node sends. An entity with no row starts a new stream: `seq` 1, under
    /// the cluster's epoch for new streams (`herald_meta`'s `stream_epoch`).
    func publish(_ update: EntityUpdate, id: String, time: String, on connection: PostgresConnection) async throws -> Int {
        let parts = Push.entityUpdated(update, id: id, time: time)
        let entity = update.entityID.rawValue
        // Room for the notice's kind, seq, epoch, entity and separators within PostgreSQL's limit.
        let inlineLimit = Notice.maximumBytes - 32 - Notice.maximumEpochBytes - entity.utf8.count
        let rows = try await connection.query(
            """
            WITH head AS (
                INSERT INTO herald_streams AS s (entity_id, latest_seq, epoch)
                VALUES (\(entity), 1, (SELECT value FROM herald_meta WHERE key = 'stream_epoch'))
                ON CONFLICT (entity_id) DO UPDATE SET latest_seq = s.latest_seq + 1, published_at = clock_timestamp()
                RETURNING latest_seq, epoch
            ), event AS (
                INSERT INTO herald_events (entity_id, seq, push)
                SELECT \(entity), latest_seq, \(String(buffer: parts.beforeSeq)) || latest_seq || \(String(buffer: parts.afterSeq)) FROM head
                RETURNING entity_id, seq, push
            ), notice AS (
                SELECT pg_notify(\(Notice.channel), \(unescaped: Notice.entityEventSQL(inlineLimit: inlineLimit))) FROM event, head
            )
            SELECT seq FROM event, notice
            """,
            logger: logger
        )
        for try await seq in rows.decode(Int.self) { return seq }
        throw PostgresBrokerError("the publish statement returned no seq")
    }

    /// Announces a user notification (its push stored in `herald_payloads` when too large to announce).
    func publish(_ notification: UserNotification, id: String, time: String, on connection: PostgresConnection) async throws {
        let push = String(buffer: Push.userNotification(notification, id: id, time: time).payload)
        try await announce(push, on: connection) { .userNotification(notification.userID, $0) }
    }
}

extension PostgresBroker {
    /// Reads a statement's rows to its end, so its errors surface here.
    func drain(_ rows: PostgresRowSequence) async throws {
        for try await _ in rows {}
    }
}

/// A database answer Herald did not expect.
struct PostgresBrokerError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
