import NIOCore

/// What a `BatchPublisher` got back.
public struct BatchOutcome: Sendable {
    public var sent = 0
    /// Answered with a non-2xx status.
    public var failed = 0
    /// Got no answer.
    public var errors = 0
    public var statuses: [Int: Int] = [:]
    /// The highest `seq` Herald answered for each entity.
    public var lastSeq: [Int: Int] = [:]
}

/// Sends a fixed list of publishes (one per entry, to that entity) to one endpoint over
/// `publishConnections` keep-alive connections, one request in flight on each, and completes when
/// every one is answered or failed. Confined to its event loop. The storm's publishes go through it.
/// Their messages carry indices from `indexBase` on, so receivers tell them from the publish phase's.
final class BatchPublisher: PublishConnectionOwner {
    static let indexBase = 1_000_000_000

    private let run: BenchRun
    private let endpoint: BenchEndpoint
    private let eventLoop: any EventLoop
    private var entities: [Int]
    private var next = 0
    private var inFlight = 0
    private var connections: [PublishConnection] = []
    private var outcome = BatchOutcome()
    private let done: EventLoopPromise<BatchOutcome>

    init(run: BenchRun, endpoint: BenchEndpoint, entities: [Int], eventLoop: any EventLoop) {
        self.run = run
        self.endpoint = endpoint
        self.entities = entities
        self.eventLoop = eventLoop
        self.done = eventLoop.makePromise()
    }

    /// Call on the event loop.
    func start() -> EventLoopFuture<BatchOutcome> {
        let count = min(run.configuration.publishConnections, entities.count)
        connections = (0..<count).map { _ in PublishConnection(publisher: self, run: run, endpoint: endpoint, eventLoop: eventLoop) }
        for connection in connections { sendNext(on: connection) }
        finishIfDone()
        return done.futureResult
    }

    func answered(_ connection: PublishConnection, indices: [Int], status: Int, seq: Int?) {
        inFlight -= 1
        outcome.statuses[status, default: 0] += 1
        if (200..<300).contains(status), let index = indices.first {
            let entity = entities[index - Self.indexBase]
            if let seq { outcome.lastSeq[entity] = max(outcome.lastSeq[entity] ?? 0, seq) }
        } else {
            outcome.failed += 1
        }
        sendNext(on: connection)
        finishIfDone()
    }

    func failedTransport(_ connection: PublishConnection, indices: [Int]) {
        inFlight -= 1
        outcome.errors += 1
        sendNext(on: connection)
        finishIfDone()
    }

    private func sendNext(on connection: PublishConnection) {
        guard next < entities.count else { return }
        let index = next
        next += 1
        inFlight += 1
        outcome.sent += 1
        connection.send([(Self.indexBase + index, entities[index])])
    }

    private func finishIfDone() {
        guard next == entities.count, inFlight == 0 else { return }
        for connection in connections { connection.close() }
        connections.removeAll()
        done.succeed(outcome)
    }
}
