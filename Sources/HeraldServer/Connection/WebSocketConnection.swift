import Foundation
import HeraldCore
import HeraldTokens
import Logging
import NIOCore
import NIOWebSocket

/// One upgraded WebSocket connection, run entirely by its event loop: no task, no actor.
///
/// Client frames (decoded and reassembled by NIOWebSocket) go to the `Session`; frames for the
/// client — replies and fan-out pushes, each already a `WireFrame` — go to the socket through
/// the `WireWriter` (pushes written by the loop's `DeliveryQueue`, which flushes once per drain;
/// replies written and flushed at once). The bound on what may queue for a client is the
/// channel's write-buffer high-water mark: crossing it makes the client a slow consumer (1013).
/// It also answers pings, pings a quiet client, closes it when its token expires (4001) or its
/// lifetime is up (4002), and runs the closing handshake.
final class WebSocketConnection: ChannelInboundHandler, Outlet, @unchecked Sendable {
    // @unchecked: every mutable member is touched on `eventLoop` only (Outlet's contract).
    typealias InboundIn = WebSocketFrame

    /// What every connection shares.
    struct Settings: Sendable {
        let hub: Hub
        let broker: any Broker
        /// Where refused messages (`message.rate_limited`) and abuse closes (`close.1008`) are counted.
        let refusals: Refusals
        let verifier: TokenVerifier
        /// Clock skew allowed on `exp`: a connection is closed at `exp` + leeway.
        let tokenLeeway: Duration
        let limits: HeraldConfiguration.Limits
        /// The application's authorisation hook, with `--subscription-auth hook` or `claims+hook`.
        let hook: AuthorisationHook?
        let metrics: HeraldMetrics
        /// Where the admin and `@connections` APIs find this connection.
        let directory: ConnectionDirectory
        let logger: Logger
    }

    /// Where the connection comes from, as the admin and `@connections` APIs show it.
    struct Peer: Sendable {
        var sourceIP: String
        var userAgent: String?
        var connectedAt = Date()
    }

    enum State {
        case open
        /// A close frame was sent; waiting for the client's, at most the close timeout.
        case closing(Scheduled<Void>?)
        case closed
    }

    let connectionID = ConnectionID.next()
    let eventLoop: any EventLoop
    let settings: Settings
    /// The user never changes: a `refresh` must name the same one.
    let userID: UserID
    let peer: Peer
    /// When the client last sent a frame (the upgrade counts).
    private(set) var lastActiveAt: Date
    /// The close code sent or received first; none when the socket just dropped (counted as 1006).
    private var closeCode: UInt16?
    private let wire: WireWriter
    private(set) var identity: Identity
    private(set) var session: Session?
    private(set) var context: ChannelHandlerContext?
    private(set) var state = State.open
    /// Read-idle periods (of one ping interval each) since the client last sent anything.
    private var quietPeriods = 0
    /// Closes the connection when its token expires (moved by each `refresh`).
    private var expiry: Scheduled<Void>?
    /// Closes the connection when its maximum lifetime is reached.
    private var lifetime: Scheduled<Void>?
    /// Inbound messages per second (text and binary).
    private var rateLimit: RateLimit
    /// The hook calls of the subscribe that waits for them (cancelled when the connection closes).
    var hookCalls: Task<Void, Never>?
    /// A subscribe waits for the hook: later messages are held (and reading paused) so they keep their order.
    var waitingForHook = false
    var held: [WebSocketFrame] = []

    private static let ping = WireFrame(.ping, payload: ByteBuffer())

    init(identity: Identity, peer: Peer, wire: WireWriter, eventLoop: any EventLoop, settings: Settings) {
        self.identity = identity
        self.userID = identity.userID
        self.peer = peer
        self.lastActiveAt = peer.connectedAt
        self.wire = wire
        self.eventLoop = eventLoop
        self.settings = settings
        rateLimit = RateLimit(perSecond: settings.limits.maxMessagesPerSecond, now: NIODeadline.now().uptimeNanoseconds)
    }

    // MARK: Outlet (on the event loop)

    func write(_ frame: WireFrame) {
        guard case .open = state else { return settings.metrics.pushDropped() }
        wire.write(frame.bytes)
    }

    func flush() {
        wire.flush()
    }

    /// Every close the server starts (a timer's, an admin's, a refused frame's, a flood's): the
    /// close frame goes out and, once written, the output side is shut (FIN). The client's further
    /// input is read and dropped until its close frame or EOF, or for at most the close timeout —
    /// so the close frame reaches the client, instead of the TCP reset that closing a socket with
    /// unread input would send.
    func close(_ reason: CloseReason) {
        guard case .open = state, let context else { return }
        closeCode = reason.code
        log("Closing", reason: reason)
        let timeout = eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(settings.limits.closeTimeout)) { context.close(promise: nil) }
        state = .closing(timeout)
        let written = eventLoop.makePromise(of: Void.self)
        written.futureResult.assumeIsolated().whenSuccess { context.close(mode: .output, promise: nil) }
        wire.writeAndFlush(WireFrame.close(reason).bytes, promise: written)
        // Reading may be paused (a subscribe waiting for the hook); the input must drain all the same.
        held.removeAll()
        try? context.channel.syncOptions?.setOption(.autoRead, value: true)
        context.read()
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        session = Session(
            userID: identity.userID,
            outlet: self,
            hub: settings.hub,
            broker: settings.broker,
            maxSubscriptions: settings.limits.maxSubscriptions,
            allowedEntities: identity.allowedEntities,
            asksHook: settings.hook != nil,
            hookCacheTTL: settings.hook?.cacheTTL ?? .zero
        )
        scheduleExpiry()
        if settings.limits.maxConnectionLifetime > .zero {
            lifetime = eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(settings.limits.maxConnectionLifetime)) { [self] in
                close(.lifetimeReached)
            }
        }
        settings.directory.add(self)
        settings.logger.info(
            "Connected",
            metadata: ["herald.connection.id": "\(connectionID)", "herald.user.id": "\(userID)", "herald.source.ip": "\(peer.sourceIP)"]
        )
    }

    func channelInactive(context: ChannelHandlerContext) {
        if case .closing(let timeout) = state { timeout?.cancel() }
        state = .closed
        hookCalls?.cancel()
        expiry?.cancel()
        lifetime?.cancel()
        session?.end()
        session = nil
        self.context = nil
        settings.directory.remove(self)
        let code = closeCode ?? 1006
        settings.metrics.closed(code: code)
        let duration = Date().timeIntervalSince(peer.connectedAt)
        settings.logger.info(
            "Disconnected",
            metadata: [
                "herald.connection.id": "\(connectionID)", "herald.user.id": "\(userID)", "herald.source.ip": "\(peer.sourceIP)",
                "herald.duration.seconds": "\((duration * 1000).rounded() / 1000)", "herald.close.code": "\(code)",
            ]
        )
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        quietPeriods = 0
        lastActiveAt = Date()
        switch frame.opcode {
        case .text, .binary:
            guard admit(ping: false) else { break }
            if waitingForHook { hold(frame) } else { handle(frame) }
        case .ping:
            guard admit(ping: true) else { break }
            wire.writeAndFlush(WireFrame(.pong, payload: frame.unmaskedData).bytes)
        case .connectionClose:
            receiveClose(frame.unmaskedData, context: context)
        default:
            break  // pongs only prove the client is alive
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        // More than the outbound buffer is queued for a client that does not read fast enough.
        if !context.channel.isWritable, case .open = state {
            settings.hub.slowConsumerDisconnected()
            settings.metrics.slowConsumerDisconnected()
            close(.slowConsumer)
        }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case IdleStateHandler.IdleStateEvent.read:
            quietPeriods += 1
            if settings.limits.pingInterval * quietPeriods >= settings.limits.idleTimeout {
                close(.idle)
            } else if case .open = state {
                wire.writeAndFlush(Self.ping.bytes)
            }
        case is ChannelShouldQuiesceEvent:
            close(.goingAway)
        case ChannelEvent.inputClosed:
            // The client shut down its side (half-close): it can send nothing more, not even a close frame.
            context.close(promise: nil)
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    /// Broken input closes with the RFC 6455 code it earns; while closing, more of it is dropped.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let reason: CloseReason
        switch error {
        case let violation as ClientFrameValidator.Violation:
            reason = violation.reason
        case NIOWebSocketError.invalidFrameLength, NIOWebSocketFrameAggregator.Error.accumulatedFrameSizeIsTooLarge:
            reason = .messageTooBig
        case is NIOWebSocketError, is NIOWebSocketFrameAggregator.Error, is ByteToMessageDecoderError:
            // The last: input after a frame the decoder gave up on.
            reason = .protocolError
        default:
            return context.close(promise: nil)
        }
        close(reason)
    }

    // MARK: Helpers

    private func receive(text data: ByteBuffer) {
        guard case .open = state, let session else { return }
        guard let text = String(validating: data.readableBytesView, as: UTF8.self) else {
            return close(.invalidText)
        }
        switch session.receive(text: text.utf8) {
        case .refresh(let request)?: verify(request)
        case .authorise(let request)?: authorise(request)
        case nil: break
        }
    }

    /// A data frame, in arrival order.
    func handle(_ frame: WebSocketFrame) {
        if frame.opcode == .text {
            receive(text: frame.unmaskedData)
        } else if case .open = state {
            session?.receiveBinary()
        }
    }

    /// Applies the inbound rate limit (`--max-messages-per-second`) to a data frame or a ping: true
    /// to handle it. A refused message is answered `rate_limited`, a refused ping not at all; once
    /// a second's worth in a row was refused, the connection closes with 1008.
    private func admit(ping: Bool) -> Bool {
        guard case .open = state else { return false }
        switch rateLimit.eventOccurred(now: NIODeadline.now().uptimeNanoseconds) {
        case .handle:
            return true
        case .refuse where ping:
            settings.refusals.count("ping.rate_limited")
            return false
        case .refuse:
            settings.refusals.count("message.rate_limited")
            let limit = settings.limits.maxMessagesPerSecond
            session?.reply(ProtocolError(.rateLimited, "more than \(limit) messages per second; this one was dropped"))
            return false
        case .close:
            settings.refusals.count("close.1008")
            close(.policyViolation)
            return false
        }
    }

    /// `refresh`: a valid token for the same user replaces the old one; anything else leaves it in place.
    private func verify(_ request: Session.RefreshRequest) {
        guard let session else { return }
        switch settings.verifier.verify(request.token) {
        case .failure(let rejection):
            let code: ErrorCode = rejection.reason == .expired ? .tokenExpired : .tokenInvalid
            session.reply(ProtocolError(code, rejection.message, requestID: request.requestID))
        case .success(let refreshed) where refreshed.userID != identity.userID:
            session.reply(ProtocolError(.forbidden, "the new token belongs to another user", requestID: request.requestID))
        case .success(let refreshed):
            identity = refreshed
            session.tokenRefreshed(allowedEntities: refreshed.allowedEntities)
            scheduleExpiry()
            send(Push.refreshed(expiresAt: refreshed.expiresAt, requestID: request.requestID))
        }
    }

    /// Closes the connection with 4001 at its token's `exp` + leeway (replacing an earlier deadline);
    /// a far `exp` is waited for a day at a time (`ExpiryTimer`).
    private func scheduleExpiry() {
        expiry?.cancel()
        let timer = ExpiryTimer(expiresAt: identity.expiresAt, leeway: settings.tokenLeeway, now: Date().timeIntervalSince1970)
        expiry = eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(timer.delay)) { [self] in
            if timer.expires { close(.tokenExpired) } else { scheduleExpiry() }
        }
    }

    /// The client's close frame: a valid one is answered with its own code (none for an empty one),
    /// an invalid one (a code RFC 6455 §7.4 does not allow, a 1-byte payload, a reason that is not
    /// UTF-8) with 1002 or 1007; then the socket is closed (the server closes TCP first, §7.1.1).
    private func receiveClose(_ payload: ByteBuffer, context: ChannelHandlerContext) {
        guard case .open = state else {
            context.close(promise: nil)
            return
        }
        switch ClientClose.read(payload.readableBytesView) {
        case .invalid(let reason):
            closeCode = reason.code
            log("Closing", reason: reason)
            writeThenClose(.close(reason), context: context)
        case .valid(let close):
            var echo = ByteBuffer()
            if let code = close.code { echo.writeInteger(code) }
            closeCode = close.code ?? 1005  // 1005: the client's close frame had no code
            writeThenClose(WireFrame(.close, payload: echo), context: context)
        }
    }

    /// Writes a close frame and closes the socket once it is out (the client has sent its close: nothing more comes).
    private func writeThenClose(_ frame: WireFrame, context: ChannelHandlerContext) {
        state = .closing(nil)
        let promise = context.eventLoop.makePromise(of: Void.self)
        promise.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        wire.writeAndFlush(frame.bytes, promise: promise)
    }

    private func log(_ message: Logger.Message, reason: CloseReason) {
        settings.logger.debug(message, metadata: ["herald.connection.id": "\(connectionID)", "herald.close.code": "\(reason.code)"])
    }
}
