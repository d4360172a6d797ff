import NIOCore
import NIOPosix
import Synchronization

/// The connect phase: opens `connections` WebSockets with at most `connectConcurrency` handshakes
/// in flight, spread round-robin over the event loops (and source addresses), and completes when
/// every launched connection is ready or failed.
final class Connector: Sendable {
    private struct Progress {
        var launched = 0
        var finished = 0
        var ready = 0
        var stopped = false
        var completed = false
    }

    let run: BenchRun
    private let loops: [NIOLoopBound<LoopState>]
    private let progress = Mutex(Progress())
    private let done: EventLoopPromise<Void>

    init(run: BenchRun, loops: [NIOLoopBound<LoopState>]) {
        self.run = run
        self.loops = loops
        self.done = loops[0].eventLoop.makePromise()
    }

    /// Starts connecting; the future completes when the phase is over.
    func start() -> EventLoopFuture<Void> {
        let configuration = run.configuration
        let first = progress.withLock { progress in
            progress.launched = min(configuration.connectConcurrency, configuration.connections)
            return progress.launched
        }
        loops[0].eventLoop.scheduleTask(in: .nanoseconds(configuration.connectPhaseTimeout.nanoseconds)) { [self] in
            stop()
        }
        for index in 0..<first { launch(index) }
        return done.futureResult
    }

    /// How many connections became ready.
    var readyCount: Int { progress.withLock { $0.ready } }

    /// Called once per launched connection, from its event loop.
    func finished(ready: Bool) {
        let configuration = run.configuration
        let (next, complete) = progress.withLock { progress -> (Range<Int>, Bool) in
            progress.finished += 1
            if ready { progress.ready += 1 }
            var next = progress.launched..<progress.launched
            if !progress.stopped {
                let inFlight = progress.launched - progress.finished
                let more = min(configuration.connectConcurrency - inFlight, configuration.connections - progress.launched)
                if more > 0 {
                    next = progress.launched..<(progress.launched + more)
                    progress.launched += more
                }
            }
            return (next, completeIfDone(&progress))
        }
        for index in next { launch(index) }
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
            progress.stopped || progress.launched == run.configuration.connections
        else { return false }
        progress.completed = true
        return true
    }

    private func launch(_ index: Int) {
        let configuration = run.configuration
        let state = loops[index % loops.count]
        let entity = index % configuration.entities
        let startedAt = NIODeadline.now().uptimeNanoseconds
        var bootstrap = ClientBootstrap(group: state.eventLoop)
            .connectTimeout(.nanoseconds(configuration.handshakeTimeout.nanoseconds))
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { [self] channel in
                let handler = SubscriberHandler(index: index, entity: entity, connector: self, loop: state.value, startedAt: startedAt)
                return channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(handler) }
            }
        if configuration.sourceAddresses > 1, let source = try? SocketAddress(ipAddress: "127.0.0.\(1 + index % configuration.sourceAddresses)", port: 0) {
            bootstrap = bootstrap.bind(to: source)
        }
        bootstrap.connect(to: run.server).whenFailure { [self] error in
            state.value.recordFailure(Self.reason(error))
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
