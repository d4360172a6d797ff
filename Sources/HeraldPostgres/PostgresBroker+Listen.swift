import Foundation
import HeraldCore
import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// How a node hears of events and questions: one connection that `LISTEN`s, catches up after a
/// gap, and proves every few seconds that it is alive (which also keeps the node in `herald_nodes`).
extension PostgresBroker {
    /// How often the listening connection is checked (and `heardUpTo` and the node's row moved on).
    static let heartbeatInterval: Duration = .seconds(5)
    /// A check that takes longer than this means the connection is gone.
    static let heartbeatTimeout: Duration = .seconds(10)
    /// How far before `heardUpTo` a catch-up reads, for publishes that started before it and
    /// committed after (a publish is one short statement).
    static let catchUpMargin: TimeInterval = 30
    /// The waits between reconnection attempts, capped at the last.
    static let reconnectDelays: [Duration] = [.milliseconds(100), .milliseconds(500), .seconds(1), .seconds(2), .seconds(5)]

    /// Listens until cancelled, reconnecting after any failure; `isAvailable` while listening.
    func listen() async {
        var failures = 0
        while !Task.isCancelled {
            do {
                let connection = try await PostgresConnection.connect(configuration: url.connectionConfiguration(), id: 1, logger: logger)
                do {
                    try await connection.listen(on: Notice.channel) { notices in
                        let since = heardUpTo.withLock { $0 } - Self.catchUpMargin
                        try await Self.load(into: streams, since: since, heads: false, on: connection, logger: logger)
                        try await beatOnce(on: connection)
                        listening.store(true, ordering: .relaxed)
                        if failures > 0 { logger.info("Listening to the database again") }
                        failures = 0
                        try await serve(notices, on: connection)
                    }
                    try? await connection.close()  // cancelled: the listening ended without an error
                } catch {
                    try? await connection.close()
                    throw error
                }
            } catch  where !Task.isCancelled {
                listening.store(false, ordering: .relaxed)
                if failures == 0 {
                    logger.error("Lost the database: not ready until it is back", metadata: ["error": "\(describe(error))"])
                }
                let delay = Self.reconnectDelays[min(failures, Self.reconnectDelays.count - 1)]
                failures += 1
                try? await Task.sleep(for: delay)
            } catch {
                break
            }
        }
        listening.store(false, ordering: .relaxed)
    }

    /// Handles notifications in order until the connection fails, beating alongside. Questions
    /// are answered beside the stream, so a slow answer never holds up events.
    private func serve(_ notices: PostgresNotificationSequence, on connection: PostgresConnection) async throws {
        let (questions, asked) = AsyncStream.makeStream(of: (request: String, from: String, body: Notice.Body).self)
        defer { asked.finish() }
        try await withThrowingTaskGroup { group in
            group.addTask {
                while true {
                    try await Task.sleep(for: Self.heartbeatInterval)
                    try await withTimeout(Self.heartbeatTimeout) { try await self.beatOnce(on: connection) }
                }
            }
            group.addTask {
                await withDiscardingTaskGroup { answering in
                    for await question in questions {
                        answering.addTask { await self.answer(question.request, from: question.from, body: question.body) }
                    }
                }
            }
            group.addTask {
                for try await notification in notices {
                    for notice in self.open(notification.payload) {
                        switch notice {
                        case .question(let request, let from, let body):
                            if from != self.nodeID { asked.yield((request, from, body)) }
                        default:
                            try await self.receive(notice, on: connection)
                        }
                    }
                }
                throw PostgresBrokerError(.unexpectedAnswer, "the database ended the notifications")
            }
            try await group.next()
            group.cancelAll()
        }
    }

    /// The notices of a notification, or none when it is refused (counted, and logged at most once a minute).
    private func open(_ text: String) -> [Notice] {
        let now = Date()
        var reason: RejectedNotice
        switch opener.withLock({ $0.open(text, now: now) }) {
        case .success(let bytes):
            if let notices = Notice.decode(bytes) { return notices }
            reason = .malformed
        case .failure(let refused):
            reason = refused
        }
        let (report, counts) = rejections.withLock { ($0.report, $0.record(reason, now: now)) }
        report?(reason)
        if let counts {
            logger.warning(
                "Dropped notices no node of this cluster sealed, or copies of earlier ones (see herald_cluster_notices_rejected_total)",
                metadata: Dictionary(uniqueKeysWithValues: counts.map { ("herald.rejected.\($0.key.rawValue)", "\($0.value)") })
            )
        }
        return []
    }

    /// Keeps this node's row in `herald_nodes` fresh and moves `heardUpTo` to the database's clock.
    private func beatOnce(on connection: PostgresConnection) async throws {
        let rows = try await connection.query(
            """
            INSERT INTO herald_nodes (node_id, seen_at) VALUES (\(nodeID), clock_timestamp())
            ON CONFLICT (node_id) DO UPDATE SET seen_at = excluded.seen_at RETURNING seen_at
            """,
            logger: logger
        )
        for try await now in rows.decode(Date.self) { heardUpTo.withLock { $0 = max($0, now) } }
    }

    /// Delivers one event, or hands an answer to the question waiting for it.
    private func receive(_ notice: Notice, on connection: PostgresConnection) async throws {
        switch notice {
        case .entityEvent(let entity, let seq, let epoch, let push):
            // A stream's first event carries the epoch new streams get now: those started here next take it too.
            if seq == 1 { streams.startNewStreams(under: epoch) }
            var text = push
            if text == nil { text = try await storedPush(of: entity, seq: seq, epoch: epoch, on: connection) }
            guard let text else {
                return logger.warning("An announced event is no longer kept", metadata: ["herald.seq": "\(seq)"])
            }
            try await deliver(WireFrame.text(ByteBuffer(string: text)), seq: seq, epoch: epoch, of: entity, on: connection)
        case .userNotification(let user, let body):
            guard let push = try await text(of: body, on: connection) else { return }
            streams.hub.deliver(WireFrame.text(ByteBuffer(string: push)), toUser: user)
        case .answer(let request, let node, let body):
            guard node == nodeID, let text = try await text(of: body, on: connection), let answer = JSON.parse(text.utf8) else { return }
            heard(answer, to: request)
        case .question:
            break  // answered beside the stream (`serve`)
        }
    }

    /// The push of an event too large for its notice (nil when it is no longer kept).
    private func storedPush(of entity: EntityID, seq: Int, epoch: String, on connection: PostgresConnection) async throws -> String? {
        let rows = try await connection.query(
            """
            SELECT e.push FROM herald_events AS e JOIN herald_streams AS s USING (entity_id)
            WHERE e.entity_id = \(entity.rawValue) AND e.seq = \(seq) AND s.epoch = \(epoch)
            """,
            logger: logger
        )
        for try await push in rows.decode(String.self) { return push }
        return nil
    }

    /// A body's text: inline, or read from `herald_payloads` (nil when it is gone).
    func text(of body: Notice.Body, on connection: PostgresConnection) async throws -> String? {
        switch body {
        case .inline(let text): return text
        case .stored(let id):
            for try await text in try await connection.query("SELECT body FROM herald_payloads WHERE id = \(id)", logger: logger)
                .decode(String.self)
            {
                return text
            }
            return nil
        }
    }

    /// Delivers an entity's event in order: events missing before it are read from the
    /// database and delivered first (those it no longer keeps are lost to resume).
    private func deliver(_ frame: WireFrame, seq: Int, epoch: String, of entity: EntityID, on connection: PostgresConnection) async throws {
        guard case .gap(let latest) = streams.accept(frame, seq: seq, epoch: epoch, of: entity, at: Date()) else { return }
        let rows = try await connection.query(
            """
            SELECT e.seq, e.push, e.created_at FROM herald_events AS e JOIN herald_streams AS s USING (entity_id)
            WHERE e.entity_id = \(entity.rawValue) AND s.epoch = \(epoch) AND e.seq > \(latest) AND e.seq < \(seq) ORDER BY e.seq
            """,
            logger: logger
        )
        for try await (missing, push, created) in rows.decode((Int, String, Date).self) {
            _ = streams.accept(WireFrame.text(ByteBuffer(string: push)), seq: missing, epoch: epoch, of: entity, at: created, allowingGap: true)
        }
        _ = streams.accept(frame, seq: seq, epoch: epoch, of: entity, at: Date(), allowingGap: true)
    }

    /// The database's clock (every catch-up is measured by it, never by this node's).
    static func databaseTime(on connection: PostgresConnection, logger: Logger) async throws -> Date {
        for try await now in try await connection.query("SELECT clock_timestamp()", logger: logger).decode(Date.self) { return now }
        throw PostgresBrokerError(.unexpectedAnswer, "the database did not tell its time")
    }

    /// Delivers (and keeps) every event stored since `since`, in each entity's order, under its
    /// stream's epoch; with `heads`, also moves every stream on to its latest `seq` (at start).
    static func load(into streams: EntityStreams, since: Date, heads: Bool, on connection: PostgresConnection, logger: Logger) async throws {
        let events = try await connection.query(
            """
            SELECT e.entity_id, e.seq, e.push, e.created_at, s.epoch FROM herald_events AS e JOIN herald_streams AS s USING (entity_id)
            WHERE e.created_at > \(since) ORDER BY e.entity_id, e.seq
            """,
            logger: logger
        )
        for try await (entity, seq, push, created, epoch) in events.decode((String, Int, String, Date, String).self) {
            guard let entity = EntityID(entity) else { continue }
            _ = streams.accept(WireFrame.text(ByteBuffer(string: push)), seq: seq, epoch: epoch, of: entity, at: created, allowingGap: true)
        }
        guard heads else { return }
        let streamHeads = try await connection.query("SELECT entity_id, latest_seq, epoch FROM herald_streams", logger: logger)
        for try await (entity, latest, epoch) in streamHeads.decode((String, Int, String).self) {
            guard let entity = EntityID(entity) else { continue }
            streams.skip(entity, to: latest, epoch: epoch)
        }
    }
}
