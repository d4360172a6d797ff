import Logging
import NIOCore

/// The first handler of every connection's pipeline (before TLS): runs its `ConnectionDeadline`
/// — the request-head, body and keep-alive timeouts, and the lingering close after a
/// `Connection: close` response — and gives back its pending slot. The protocol handlers behind
/// it say how the exchange goes with `ConnectionProgress` events fired from the pipeline's head;
/// it knows nothing else of HTTP or WebSocket, so any upgrade path can drive it.
final class ConnectionDeadlineHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private var state: ConnectionDeadline
    private let pending: PendingConnections
    private let metrics: HeraldMetrics
    private let logger: Logger
    private var timer: Scheduled<Void>?
    private var armedAt: NIODeadline?

    /// For a connection accepted now that holds a slot of `pending`.
    init(timeouts: ConnectionDeadline.Timeouts, pending: PendingConnections, metrics: HeraldMetrics, logger: Logger) {
        state = ConnectionDeadline(timeouts: timeouts, acceptedAt: .now())
        self.pending = pending
        self.metrics = metrics
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        arm(state.firstDeadline, context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        run(state.closed(), context)
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
                timer?.cancel()
                timer = nil
                context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            }
        }
    }

    /// One timer at a time: an earlier deadline replaces it, a later one waits for it to fire (it re-arms).
    private func arm(_ deadline: NIODeadline, _ context: ChannelHandlerContext) {
        if let armedAt, timer != nil, armedAt <= deadline { return }
        timer?.cancel()
        armedAt = deadline
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            self.timer = nil
            self.run(self.state.deadlinePassed(now: .now()), context)
        }
    }
}
