import Logging
import NIOCore

/// The first handler of every connection's pipeline (before TLS): runs its `ConnectionDeadline`
/// — the request-head, body and keep-alive timeouts, and the lingering close after a
/// `Connection: close` response — and gives back its pending slot. The protocol handlers behind
/// it say how the exchange goes with `ConnectionProgress` events fired from the pipeline's head;
/// it knows nothing else of HTTP or WebSocket, so any upgrade path can drive it.
///
/// Its timer (a `LoopTimer`) is never cancelled: cancelling searches the event loop's whole task
/// queue, which made each upgrade cost more the more connections a node held. A timer that is
/// no longer wanted fires later and does nothing: only the latest one counts.
final class ConnectionDeadlineHandler: ChannelInboundHandler, RemovableChannelHandler, LoopTimerOwner {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private var state: ConnectionDeadline
    private let pending: PendingConnections
    private let metrics: HeraldMetrics
    private let logger: Logger
    /// The instant the latest timer fires, and its number (earlier timers are stale).
    private var armedAt: NIODeadline?
    private var generation = 0
    private var context: ChannelHandlerContext?
    private let timers = LoopTimerLink<ConnectionDeadlineHandler>()

    /// For a connection accepted now that holds a slot of `pending`.
    init(timeouts: ConnectionDeadline.Timeouts, pending: PendingConnections, metrics: HeraldMetrics, logger: Logger) {
        state = ConnectionDeadline(timeouts: timeouts, acceptedAt: .now())
        self.pending = pending
        self.metrics = metrics
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        timers.owner = self
        arm(state.firstDeadline, context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        armedAt = nil
        run(state.closed(), context)
        self.context = nil
        timers.owner = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        run(state.closed(), context)
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let actions = state.bytesReceived(unwrapInboundIn(data).readableBytes, now: .now())
        run(actions, context)
        if !actions.contains(.discard) { context.fireChannelRead(data) }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        let now = NIODeadline.now()
        switch event {
        case let progress as ConnectionProgress:
            // Told by the handlers behind; not for anyone else.
            switch progress {
            case .requestHeadReceived: run(state.requestHeadReceived(now: now), context)
            case .requestBodyReceived: run(state.requestBodyReceived(now: now), context)
            case .responseSent(let closing): run(state.responseSent(closing: closing, now: now), context)
            case .upgraded: run(state.upgraded(), context)
            }
        case ChannelEvent.inputClosed:
            run(state.inputEnded(), context)
            context.fireUserInboundEventTriggered(event)
        case is ChannelShouldQuiesceEvent:
            run(state.quiesced(), context)
            context.fireUserInboundEventTriggered(event)
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    private func run(_ actions: [ConnectionDeadline.Action], _ context: ChannelHandlerContext) {
        for action in actions {
            switch action {
            case .arm(let deadline): arm(deadline, context)
            case .releasePending: pending.release()
            case .discard: break
            // From the pipeline's tail, so that TLS (behind this handler) sends its close_notify first.
            case .closeOutput: context.pipeline.close(mode: .output, promise: nil)
            case .shed(let reason):
                metrics.shed(reason)
                logger.debug("Connection shed", metadata: ["herald.shed.reason": "\(reason.rawValue)"])
                context.close(promise: nil)
            case .close: context.close(promise: nil)
            case .remove:
                armedAt = nil
                context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            }
        }
    }

    /// One timer counts at a time: an earlier deadline gets a new one (the old one goes stale), a
    /// later one waits for the current one to fire (it re-arms).
    private func arm(_ deadline: NIODeadline, _ context: ChannelHandlerContext) {
        if let armedAt, armedAt <= deadline { return }
        armedAt = deadline
        generation += 1
        LoopTimer.arm(at: deadline, via: timers, generation: generation, on: context.eventLoop)
    }

    func loopTimerFired(_ generation: Int) {
        guard self.generation == generation, armedAt != nil, let context else { return }
        armedAt = nil
        run(state.deadlinePassed(now: .now()), context)
    }
}
