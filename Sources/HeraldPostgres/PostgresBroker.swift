import Foundation
public import HeraldCore
public import Logging
import PostgresNIO
public import ServiceLifecycle
import Synchronization

/// The cluster broker (OPERATIONS.md §13): nodes sharing one PostgreSQL database.
///
/// A publish numbers the event, keeps it and notifies every node in one transaction: the
/// entity's row in `herald_streams` orders its publishes, and `NOTIFY` reaches the listeners in
/// commit order, so every node sees one entity's events in `seq` order. Every notice is sealed
/// with a key derived from the cluster secret (`NoticeSeal`): a database role that is not a node
/// can neither read nor forge nor replay one. Each node — the publishing one too — delivers what it is notified of to its own
/// subscribers through its `EntityStreams`, which also keep the node's copy of the history, so
/// a subscribe and its replay stay one synchronous step as with the in-memory broker. At start
/// a node loads every stream's head and the kept history; after losing its listening
/// connection it catches up from `herald_events`; an event that arrives ahead of a missing
/// one waits while the missing one is read. User notifications are not kept: one sent while a
/// node is cut off from the database does not reach that node's connections.
///
/// Each stream has its own epoch, kept in its row. A node knows every stream the database has
/// (it hears every event) and forgets one only once the database has: the sweep deletes a row
/// nobody published to within the TTL and no node held (had subscribers for) within a grace
/// period, and each node then drops its idle copy (`PostgresBroker+Forgetting`).
public final class PostgresBroker: Broker, Service {
    let url: PostgresURL
    let client: PostgresClient
    let streams: EntityStreams
    let history: EntityHistory.Limits
    let logger: Logger
    let listening = Atomic<Bool>(false)
    /// The database's clock at the last moment this node is known to have heard everything.
    let heardUpTo: Mutex<Date>
    /// This node's name in `herald_nodes` and in questions (new at every start).
    let nodeID = String(UInt64.random(in: 1...UInt64.max), radix: 36)
    /// This node's questions still waiting for answers, by request id.
    let asks = Mutex<[String: AsyncStream<JSONValue>.Continuation]>([:])
    /// What answers other nodes' questions here.
    let answerer = Mutex<(@Sendable (JSONValue) async -> JSONValue)?>(nil)
    /// Seals what this node tells the others.
    let sealer: NoticeSealer
    /// Opens what this node hears, refusing forgeries and copies.
    let opener: Mutex<NoticeOpener>
    /// The notices this node refused.
    let rejections = Mutex(RejectedNoticeLog())
    /// The publishes waiting for a transaction, and the transactions on their way.
    let commits = Mutex(
        GroupCommit<PendingPublish>(maximumInFlight: PostgresBroker.publishTransactions, maximumEvents: PostgresBroker.eventsPerTransaction)
    )

    private init(
        url: PostgresURL,
        secrets: [ClusterSecret],
        startedAt: Date,
        streams: EntityStreams,
        history: EntityHistory.Limits,
        heardUpTo: Date,
        logger: Logger
    ) {
        self.url = url
        self.streams = streams
        self.history = history
        self.heardUpTo = Mutex(heardUpTo)
        self.logger = logger
        sealer = NoticeSealer(secret: secrets[0])
        opener = Mutex(NoticeOpener(secrets: secrets, startedAt: startedAt))
        client = PostgresClient(configuration: url.clientConfiguration, backgroundLogger: logger)
    }

    /// Connects, migrates the schema, and loads every stream's head and the kept history.
    /// Fails (naming `--broker`) when the database cannot be reached.
    ///
    /// `secret` seals this node's notices and opens the others'; `previous`, when given, opens
    /// them too (while every node moves to a new secret).
    public static func start(
        url: PostgresURL,
        secret: ClusterSecret,
        previous: ClusterSecret? = nil,
        hub: Hub,
        history: EntityHistory.Limits,
        logger: Logger
    ) async throws(PostgresBrokerError) -> PostgresBroker {
        let startedAt = Date()
        do {
            let connection = try await PostgresConnection.connect(configuration: url.connectionConfiguration(), id: 0, logger: logger)
            do {
                let epoch = try await Schema.migrate(connection, newEpoch: EntityHistory.newEpoch(), logger: logger)
                // The database decides when a stream is forgotten: the node forgets its copy after it.
                let streams = EntityStreams(hub: hub, history: history, forgetsIdleStreams: false)
                streams.startNewStreams(under: epoch)
                let now = try await Self.databaseTime(on: connection, logger: logger)
                try await Self.load(into: streams, since: now - history.ttl.inSeconds, heads: true, on: connection, logger: logger)
                try? await connection.close()
                logger.info("Connected to the database", metadata: ["herald.broker.url": "\(url)", "herald.epoch": "\(epoch)"])
                return PostgresBroker(
                    url: url,
                    secrets: [secret] + (previous.map { [$0] } ?? []),
                    startedAt: startedAt,
                    streams: streams,
                    history: history,
                    heardUpTo: now,
                    logger: logger
                )
            } catch {
                try? await connection.close()
                throw error
            }
        } catch {
            throw PostgresBrokerError(.databaseUnusable, "cannot use the database at \(url): \(describe(error))")
        }
    }

    /// What `buildApplication`'s broker factory calls: starts the broker for a node's hub and
    /// returns it with itself as the service to run.
    public static func maker(
        _ url: PostgresURL,
        secret: ClusterSecret,
        previous: ClusterSecret? = nil
    ) -> @Sendable (_ hub: Hub, _ history: EntityHistory.Limits, _ logger: Logger) async throws -> (broker: any Broker, services: [any Service]) {
        { hub, history, logger in
            let broker = try await start(url: url, secret: secret, previous: previous, hub: hub, history: history, logger: logger)
            return (broker, [broker])
        }
    }

    // MARK: Service

    /// Runs the connection pool and this node's listener until graceful shutdown, then leaves `herald_nodes`.
    public func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.client.run() }
            await cancelWhenGracefulShutdown { await self.listen() }
            await leave()
            group.cancelAll()
        }
    }

    // MARK: Broker

    public var isAvailable: Bool { listening.load(ordering: .relaxed) }

    /// How long a publish may wait for the database before it is answered `503`.
    static let publishTimeout: Duration = .seconds(5)

    /// The events of one call (a `POST /events` batch) are written all or none, in one
    /// transaction with the other publishes waiting at that moment (`GroupCommit`), and answered
    /// once it has committed, from the task that wrote it. Refused once `publishTimeout` has passed
    /// since the call without an answer from the database (the transaction may still commit
    /// then: a `503` after a timeout does not prove nothing was published). A node that is not
    /// listening still publishes: it catches up on its own events once it is back.
    public func publish(_ events: [Event], then answer: @escaping @Sendable (Result<[PublishReceipt], BrokerError>) -> Void) {
        let pending = PendingPublish(events, time: Date().formatted(.iso8601), deadline: .now + Self.publishTimeout, answer: answer)
        if let batch = commits.withLock({ $0.enqueue(pending, events: events.count) }) { startWriting(batch) }
    }

    public func subscribe(_ outlet: any Outlet, to entity: EntityID, since: Int?, epoch: String?) -> Replay {
        streams.subscribe(outlet, to: entity, since: since, epoch: epoch, now: Date())
    }

    public func unsubscribe(_ outlet: any Outlet, from entities: [EntityID]) {
        streams.unsubscribe(outlet, from: entities)
    }

    public var streamFigures: EntityStreams.Figures { streams.figures }

    /// Frees this node's expired history, the database's expired and surplus events, and the
    /// streams nobody holds (in the database, then here).
    public func evictExpiredHistory() async -> EntityStreams.Sweep {
        var sweep = streams.evictExpiredHistory(now: Date())
        do {
            try await holdSubscribedStreams()
            try await client.query(
                "DELETE FROM herald_events WHERE created_at < clock_timestamp() - make_interval(secs => \(history.ttl.inSeconds))",
                logger: logger
            )
            try await client.query(
                """
                DELETE FROM herald_events AS e USING herald_streams AS s
                WHERE e.entity_id = s.entity_id AND e.seq <= s.latest_seq - \(max(history.size, 1))
                """,
                logger: logger
            )
            try await client.query("DELETE FROM herald_payloads WHERE created_at < clock_timestamp() - interval '10 minutes'", logger: logger)
            try await forgetUnheldStreams()
            sweep.forgotten += try await forgetWhatTheDatabaseForgot()
        } catch {
            logger.warning("Could not trim the database's history", metadata: ["error": "\(describe(error))"])
        }
        return sweep
    }
}
