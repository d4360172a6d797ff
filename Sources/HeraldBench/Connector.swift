import NIOCore
import NIOPosix
import Synchronization

/// The connect phase: opens `connections` WebSockets with at most `connectConcurrency` handshakes
/// in flight (and at most `connectRate` launched per second, when set), spread round-robin over
/// the event loops (and source addresses), and completes when every launched connection is ready
/// or failed. The storm's reconnect is a connect phase too: the lost clients, to the fresh node.
final class Connector: Sendable {
    /// Which connections this phase opens.
    enum Phase: Sendable {
        /// Connection i for i in 0..<connections, to the server under test.
        case initial
        /// The storm's lost clients, to the fresh node, each expecting its entity's stream to reach
        /// `targetSeq[entity]` (empty: nothing to catch up).
        case reconnect(clients: [Int], targetSeq: [Int: Int])
    }

    private struct Progress {
        var launched = 0
        var finished = 0
        var ready = 0
        var stopped = false
        var completed = false
    }

    let run: BenchRun
    let phase: Phase
    let endpoint: BenchEndpoint
    private let loops: [NIOLoopBound<LoopState>]
    private let progress = Mutex(Progress())
    private let done: EventLoopPromise<Void>
    /// How many connections this phase opens.
    private let count: Int
    /// Paced: launches per second, from `startedAt` (uptime ns).
    private let rate: Double?
    private let startedAt = Atomic<UInt64>(0)

    init(run: BenchRun, loops: [NIOLoopBound<LoopState>], phase: Phase = .initial) {
        self.run = run
        self.loops = loops
        self.phase = phase
        self.done = loops[0].eventLoop.makePromise()
        switch phase {
        case .initial:
            endpoint = run.primary
            count = run.configuration.connections
            rate = run.configuration.connectRate
        case .reconnect(let clients, _):
            endpoint = run.reconnect ?? run.primary
            count = clients.count
            rate = nil
        }
    }

    /// Starts connecting; the future completes when the phase is over.
    func start() -> EventLoopFuture<Void> {
        let configuration = run.configuration
        startedAt.store(NIODeadline.now().uptimeNanoseconds, ordering: .relaxed)
        if count == 0 { return loops[0].eventLoop.makeSucceededVoidFuture() }
        let first = progress.withLock { progress in
            progress.launched = min(configuration.connectConcurrency, allowance(), count)
            return progress.launched
        }
        loops[0].eventLoop.scheduleTask(in: .nanoseconds(configuration.connectPhaseTimeout.nanoseconds)) { [self] in
            stop()
        }
        for position in 0..<first { launch(position) }
        if rate != nil { pace() }
        return done.futureResult
    }

    private var isReconnect: Bool {
        if case .reconnect = phase { return true }
        return false
    }

    /// Paced: how many may have been launched by now (all of them when unpaced).
    private func allowance() -> Int {
        guard let rate else { return count }
        let elapsed = Double(NIODeadline.now().uptimeNanoseconds &- startedAt.load(ordering: .relaxed)) / 1e9
        return min(count, Int(elapsed * rate) + 1)
    }

    /// Paced: every millisecond, launches what came due (within the concurrency bound).
    private func pace() {
        loops[0].eventLoop.scheduleTask(in: .milliseconds(1)) { [self] in
            let (next, more) = progress.withLock { progress -> (Range<Int>, Bool) in
                let next = launchable(&progress)
                return (next, !progress.stopped && progress.launched < count)
            }
            for position in next { launch(position) }
            if more { pace() }
        }
    }

    /// Claims the positions that may be launched now.
    private func launchable(_ progress: inout Progress) -> Range<Int> {
        guard !progress.stopped else { return progress.launched..<progress.launched }
        let inFlight = progress.launched - progress.finished
        let more = min(run.configuration.connectConcurrency - inFlight, allowance() - progress.launched)
        guard more > 0 else { return progress.launched..<progress.launched }
        defer { progress.launched += more }
        return progress.launched..<(progress.launched + more)
    }

    /// How many connections became ready.
    var readyCount: Int { progress.withLock { $0.ready } }

    /// Called once per launched connection, from its event loop.
    func finished(ready: Bool) {
        let (next, complete) = progress.withLock { progress -> (Range<Int>, Bool) in
            progress.finished += 1
            if ready { progress.ready += 1 }
            return (launchable(&progress), completeIfDone(&progress))
        }
        for position in next { launch(position) }
        if complete { done.succeed() }
    }

    /// The phase timeout: launch nothing more; finish when the handshakes in flight end.
    private func stop() {
        let complete = progress.withLock { progress -> Bool in
            progress.stopped = true
            return completeIfDone(&progress)
        }
        if complete { done.succeed() }
    }

    private func completeIfDone(_ progress: inout Progress) -> Bool {
        guard !progress.completed, progress.finished == progress.launched,
            progress.stopped || progress.launched == count
        else { return false }
        progress.completed = true
        return true
    }

    private func launch(_ position: Int) {
        let configuration = run.configuration
        let index: Int
        let target: Int?
        switch phase {
        case .initial:
            index = position
            target = nil
        case .reconnect(let clients, let targetSeq):
            index = clients[position]
            target = targetSeq[index % configuration.entities]
        }
        let resuming = isReconnect
        let state = loops[index % loops.count]
        let entity = index % configuration.entities
        let startedAt = NIODeadline.now().uptimeNanoseconds
        var bootstrap = ClientBootstrap(group: state.eventLoop)
            .connectTimeout(.nanoseconds(configuration.handshakeTimeout.nanoseconds))
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { [self] channel in
                let loop = state.value
                let client = configuration.storm == nil ? nil : loop.stormClient(index: index, entity: entity)
                if resuming { client?.reconnecting(target: target, now: startedAt) }
                let handler = SubscriberHandler(
                    index: index,
                    entity: entity,
                    connector: self,
                    loop: loop,
                    startedAt: startedAt,
                    client: client,
                    resuming: resuming
                )
                return channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(handler) }
            }
        if configuration.sourceAddresses > 1,
            let source = try? SocketAddress(ipAddress: "127.0.0.\(1 + index % configuration.sourceAddresses)", port: 0)
        {
            bootstrap = bootstrap.bind(to: source)
        }
        bootstrap.connect(to: endpoint.address).whenFailure { [self] error in
            if resuming {
                state.value.stormClients[index]?.failed(Self.reason(error))
            } else {
                state.value.recordFailure(Self.reason(error))
            }
            finished(ready: false)
        }
    }

    /// A short, stable failure reason for the report.
    private static func reason(_ error: any Error) -> String {
        if let error = error as? ChannelError, case .connectTimeout = error { return "connect timeout" }
        if let error = error as? IOError {
            switch error.errnoCode {
            case 111: return "connect: connection refused"
            case 99: return "connect: no free local port (use --source-addresses)"
            case 24, 23: return "connect: too many open files"
            case 110: return "connect timeout"
            default: return "connect: errno \(error.errnoCode)"
            }
        }
        return "connect: " + String(String(describing: error).prefix(60))
    }
}
