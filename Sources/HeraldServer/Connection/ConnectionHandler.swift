import Foundation
import HeraldCore
import HeraldTokens
import Logging
import NIOCore
import NIOWebSocket

/// The NIO handler of one upgraded WebSocket connection, run entirely by its event loop (no
/// task, no actor): it turns what happens on the channel into `ConnectionStateMachine` events and
/// runs the actions the machine returns — nothing more. Every rule (replies, limits, deadlines,
/// the closing handshake) is the machine's.
///
/// Client frames arrive decoded and reassembled by NIOWebSocket; frames for the client — replies
/// and fan-out pushes, each already a `WireFrame` — go to the socket through the `WireWriter`.
/// Pushes come from the loop's `DeliveryQueue` through `push`/`flushPushes`, a direct call: the
/// machine only says whether the connection still takes them. The bound on what may queue for a
/// client is the channel's write-buffer high-water mark: crossing it makes the client a slow
/// consumer (1013).
final class ConnectionHandler: ChannelInboundHandler, LoopTimerOwner {
    typealias InboundIn = WebSocketFrame
    typealias Event = ConnectionStateMachine.Event
    typealias Action = ConnectionStateMachine.Action

    private var state: ConnectionStateMachine
    /// What the rest of the server holds of this connection.
    private let connection: WebSocketConnection
    private let wire: WireWriter
    private let settings: WebSocketConnection.Settings
    private var context: ChannelHandlerContext?
    private var deadlines = DeadlineSchedule()
    private let timers = LoopTimerLink<ConnectionHandler>()
    /// The hook calls of the subscribe that waits for them.
    private var hookCall: Task<Void, Never>?
    /// True while actions run; events that arrive meanwhile (a write that lost writability, a
    /// socket that closed at once) wait in `deferred` and are handled next, in order.
    private var isRunning = false
    private var deferred: [Event] = []

    init(identity: Identity, connection: WebSocketConnection, wire: WireWriter, settings: WebSocketConnection.Settings) {
        let hook = settings.hook
        let session = SessionStateMachine(
            userID: identity.userID,
            maxSubscriptions: settings.limits.maxSubscriptions,
            allowedEntities: identity.allowedEntities,
            asksHook: hook != nil,
            hookCacheTTL: hook?.cacheTTL ?? .zero
        )
        let upgraded = Moment(
            uptimeNanoseconds: connection.eventLoop.now.uptimeNanoseconds,
            secondsSince1970: connection.peer.connectedAt.timeIntervalSince1970
        )
        state = ConnectionStateMachine(session: session, expiresAt: identity.expiresAt, configuration: settings.machine, now: upgraded)
        self.connection = connection
        self.wire = wire
        self.settings = settings
    }

    // MARK: What the connection's handle reads and calls (on the event loop)

    var userID: UserID { state.session.userID }
    var isOpen: Bool { state.isOpen }
    var lastActiveAt: Date { Date(timeIntervalSince1970: state.lastActiveAt) }
    var subscriptionCount: Int { state.session.subscriptions.count }

    /// A fan-out push: queued unless the connection is closing (then dropped, and counted).
    func push(_ frame: WireFrame) {
        guard state.isOpen else { return settings.metrics.pushDropped() }
        wire.write(frame.bytes)
    }

    func flushPushes() {
        wire.flush()
    }

    /// Hands `event` to the machine and runs its actions (after those of the events before it).
    func handle(_ event: Event) {
        guard !isRunning else { return deferred.append(event) }
        isRunning = true
        run(state.handle(event, at: now()))
        while !deferred.isEmpty {
            let next = deferred.removeFirst()
            run(state.handle(next, at: now()))
        }
        isRunning = false
    }

    // MARK: Channel events

    /// The connection's timer fired: each deadline it reached, in order, then the next timer.
    func loopTimerFired(_ generation: Int) {
        for deadline in deadlines.fired(generation, now: connection.eventLoop.now.uptimeNanoseconds) {
            handle(.deadlineReached(deadline))
        }
        armTimer()
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        timers.owner = self
        connection.attach(self)
        settings.hub.connect(connection, user: userID)
        settings.directory.add(connection)
        settings.logger.info(
            "Connected",
            metadata: [
                "herald.connection.id": "\(connection.connectionID)", "herald.user.id": "\(userID)",
                "herald.source.ip": "\(connection.peer.sourceIP)",
            ]
        )
        handle(.started)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        timers.owner = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        handle(.socketClosed)
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text: handle(.textReceived(frame.unmaskedData))
        case .binary: handle(.binaryReceived)
        case .ping: handle(.pingReceived(frame.unmaskedData))
        case .connectionClose: handle(.closeReceived(frame.unmaskedData))
        default: handle(.pongReceived)  // pongs only prove the client is alive
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if !context.channel.isWritable { handle(.writabilityLost) }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case is ChannelShouldQuiesceEvent: handle(.closeRequested(.goingAway))
        case ChannelEvent.inputClosed: handle(.inputClosed)
        default: context.fireUserInboundEventTriggered(event)
        }
    }

    /// Broken input closes with the RFC 6455 code it earns; any other error closes the socket.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        switch error {
        case let violation as ClientFrameValidator.Violation:
            handle(.inputBroken(violation.reason))
        case NIOWebSocketError.invalidFrameLength, NIOWebSocketFrameAggregator.Error.accumulatedFrameSizeIsTooLarge:
            handle(.inputBroken(.messageTooBig))
        case is NIOWebSocketError, is NIOWebSocketFrameAggregator.Error, is ByteToMessageDecoderError:
            // The last: input after a frame the decoder gave up on.
            handle(.inputBroken(.protocolError))
        default:
            handle(.failed)
        }
    }

    // MARK: Actions

    private func run(_ actions: [Action]) {
        for action in actions { run(action) }
    }

    private func run(_ action: Action) {
        switch action {
        case .write(let frame):
            wire.write(frame.bytes)
        case .flush:
            wire.flush()
        case .subscribe(let order):
            // The broker judges `since` against the entity's stream under its lock; the ack and
            // the replay are written before any live push (those wait for this turn of the loop).
            let replay = settings.broker.subscribe(connection, to: order.entity, since: order.since, epoch: order.epoch)
            answer(.subscribed(order, replay))
        case .unsubscribe(let entities):
            settings.broker.unsubscribe(connection, from: entities)
        case .verifyToken(let token):
            switch settings.verifier.verify(token) {
            case .failure(let rejection):
                answer(.tokenRefused(rejection.reason == .expired ? .tokenExpired : .tokenInvalid, rejection.message))
            case .success(let identity):
                answer(.tokenVerified(userID: identity.userID, expiresAt: identity.expiresAt, allowedEntities: identity.allowedEntities))
            }
        case .askHook(let entities):
            askHook(about: entities)
        case .cancelHook:
            hookCall?.cancel()
            hookCall = nil
        case .pauseReading:
            try? context?.channel.syncOptions?.setOption(.autoRead, value: false)
        case .resumeReading:
            try? context?.channel.syncOptions?.setOption(.autoRead, value: true)
            context?.read()
        case .sendClose(let frame, let then):
            sendClose(frame, then: then)
        case .closeSocket:
            context?.close(promise: nil)
        case .setDeadline(let deadline, let uptime):
            deadlines[deadline] = uptime
            armTimer()
        case .cancelDeadline(let deadline):
            deadlines[deadline] = nil
        case .count(let metric):
            count(metric)
        case .ended(let closeCode):
            ended(closeCode: closeCode)
        }
    }

    /// An answer to an action that asked for it: handled at once, before the actions after it.
    private func answer(_ event: Event) {
        run(state.handle(event, at: now()))
    }

    /// Asks the hook off the event loop; its answers come back on it.
    private func askHook(about entities: [EntityID]) {
        guard let hook = settings.hook else { return answer(.hookAnswered([:])) }
        let handler = NIOLoopBound(self, eventLoop: connection.eventLoop)
        let (user, id) = (userID, connection.connectionID)
        hookCall = Task {
            let answers = await hook.answers(for: entities, user: user, connection: id)
            handler.eventLoop.execute {
                handler.value.hookCall = nil
                handler.value.handle(.hookAnswered(answers))
            }
        }
    }

    private func sendClose(_ frame: WireFrame, then: ConnectionStateMachine.AfterClose) {
        guard let context else { return }
        settings.logger.debug(
            "Closing",
            metadata: ["herald.connection.id": "\(connection.connectionID)", "herald.close.code": "\(state.closeCode ?? 0)"]
        )
        let written = context.eventLoop.makePromise(of: Void.self)
        switch then {
        case .shutOutput: written.futureResult.assumeIsolated().whenSuccess { context.close(mode: .output, promise: nil) }
        case .closeSocket: written.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
        wire.writeAndFlush(frame.bytes, promise: written)
    }

    private func count(_ metric: ConnectionStateMachine.Metric) {
        switch metric {
        case .messageRateLimited: settings.refusals.count("message.rate_limited")
        case .pingRateLimited: settings.refusals.count("ping.rate_limited")
        case .closedForFlooding: settings.refusals.count("close.1008")
        case .slowConsumerDisconnected: settings.metrics.slowConsumerDisconnected()
        }
    }

    private func ended(closeCode: UInt16) {
        settings.hub.disconnect(connection, user: userID)
        settings.directory.remove(connection)
        connection.detach()
        settings.metrics.closed(code: closeCode)
        let duration = Date().timeIntervalSince(connection.peer.connectedAt)
        settings.logger.info(
            "Disconnected",
            metadata: [
                "herald.connection.id": "\(connection.connectionID)", "herald.user.id": "\(userID)",
                "herald.source.ip": "\(connection.peer.sourceIP)",
                "herald.duration.seconds": "\((duration * 1000).rounded() / 1000)", "herald.close.code": "\(closeCode)",
            ]
        )
    }

    private func armTimer() {
        guard let timer = deadlines.timerToArm() else { return }
        LoopTimer.arm(at: .uptimeNanoseconds(timer.uptimeNanoseconds), via: timers, generation: timer.generation, on: connection.eventLoop)
    }

    private func now() -> Moment {
        Moment(uptimeNanoseconds: connection.eventLoop.now.uptimeNanoseconds, secondsSince1970: settings.wallClock())
    }
}
