import NIOCore

/// One WebSocket connection of the standalone server, as a value: every rule of its life —
/// the session's messages (`SessionStateMachine`), the inbound rate limit, pings and the idle
/// timeout, the token's (`4001`) and the lifetime's (`4002`) deadlines, the slow-consumer close,
/// the closing handshake, and holding messages while a subscribe waits for the authorisation
/// hook. Events in (`handle(_:at:)`, told the moment they happened: no clock is read here),
/// actions out, which the server's NIO handler runs (as postgres-nio's `PostgresChannelHandler`
/// runs its `ConnectionStateMachine`). No I/O.
///
/// An action that asks for an answer (`subscribe`, `verifyToken`, `askHook`) is answered with
/// an event (`subscribed`, `tokenVerified`/`tokenRefused`, `hookAnswered`); `subscribe` and
/// `verifyToken` are answered at once, before the actions after them run.
public struct ConnectionStateMachine: Sendable {
    /// The server's limits that shape a connection (OPERATIONS.md §2).
    public struct Configuration: Equatable, Sendable {
        /// `--max-messages-per-second`; 0: no limit.
        public var maxMessagesPerSecond: Int
        /// `--ping-interval`: the read-idle period after which a quiet client is pinged.
        public var pingInterval: Duration
        /// `--idle-timeout`: a client heard from for this long is closed with `1001`.
        public var idleTimeout: Duration
        /// How long a close the server started waits for the client's close frame.
        public var closeTimeout: Duration
        /// `--max-connection-lifetime`: closed with `4002` after this long; zero: never.
        public var maxLifetime: Duration
        /// Clock skew allowed on `exp`: the connection closes at `exp` + leeway.
        public var tokenLeeway: Duration
        /// Messages held while a subscribe waits for the hook (reading is paused, so few arrive);
        /// more close the connection with `1008`.
        public var maxHeldMessages: Int

        public init(
            maxMessagesPerSecond: Int,
            pingInterval: Duration,
            idleTimeout: Duration,
            closeTimeout: Duration,
            maxLifetime: Duration,
            tokenLeeway: Duration,
            maxHeldMessages: Int = 1_024
        ) {
            self.maxMessagesPerSecond = maxMessagesPerSecond
            self.pingInterval = pingInterval
            self.idleTimeout = idleTimeout
            self.closeTimeout = closeTimeout
            self.maxLifetime = maxLifetime
            self.tokenLeeway = tokenLeeway
            self.maxHeldMessages = maxHeldMessages
        }
    }

    /// A data message that arrived while the session waited for an answer.
    private enum HeldMessage: Sendable {
        case text(ByteBuffer)
        case binary
    }

    private static let ping = WireFrame(.ping, payload: ByteBuffer())

    /// Who the client is, what it subscribed to, how its messages are answered.
    public private(set) var session: SessionStateMachine
    /// When the client last sent a frame (the upgrade counts), in epoch seconds.
    public private(set) var lastActiveAt: Double
    private let configuration: Configuration
    private var handshake = CloseHandshake()
    private var liveness: Liveness
    private var rateLimit: RateLimit
    private var token: TokenExpiry
    private var held: [HeldMessage] = []

    /// - Parameters:
    ///   - expiresAt: the connect token's `exp`, in epoch seconds.
    ///   - now: the upgrade.
    public init(session: SessionStateMachine, expiresAt: Int, configuration: Configuration, now: Moment) {
        self.session = session
        self.configuration = configuration
        lastActiveAt = now.secondsSince1970
        liveness = Liveness(pingInterval: configuration.pingInterval, idleTimeout: configuration.idleTimeout, now: now.uptimeNanoseconds)
        rateLimit = RateLimit(perSecond: configuration.maxMessagesPerSecond, now: now.uptimeNanoseconds)
        token = TokenExpiry(expiresAt: expiresAt, leeway: configuration.tokenLeeway)
    }

    /// False once a close has begun: pushes and replies are no longer written.
    public var isOpen: Bool { handshake.phase == .open }

    /// The close code sent or received first; nil while open, or when the socket just dropped.
    public var closeCode: UInt16? { handshake.closeCode }

    /// The token's `exp` now (moved by each `refresh`).
    public var expiresAt: Int { token.expiresAt }

    // MARK: Events

    /// Something happened to the connection at `now`: what to do about it, in order.
    public mutating func handle(_ event: Event, at now: Moment) -> [Action] {
        switch event {
        case .started:
            var actions: [Action] = [.setDeadline(.tokenExpiry, at: token.arm(now: now))]
            if configuration.pingInterval > .zero { actions.append(.setDeadline(.ping, at: liveness.firstCheck(after: now))) }
            if configuration.maxLifetime > .zero { actions.append(.setDeadline(.lifetime, at: now.uptime(after: configuration.maxLifetime))) }
            return actions
        case .textReceived(let bytes):
            heard(at: now)
            return dataReceived(.text(bytes), at: now)
        case .binaryReceived:
            heard(at: now)
            return dataReceived(.binary, at: now)
        case .pingReceived(let payload):
            heard(at: now)
            guard isOpen else { return [] }
            if let refusal = admit(ping: true, at: now) { return refusal }
            return [.write(WireFrame(.pong, payload: payload)), .flush]
        case .pongReceived:
            heard(at: now)
            return []
        case .closeReceived(let payload):
            heard(at: now)
            guard let answer = handshake.closeReceived(payload) else { return [.closeSocket] }
            held = []
            return [.sendClose(answer, then: .closeSocket)]
        case .deadlineReached(.ping):
            guard handshake.phase != .closed else { return [] }
            let (verdict, next) = liveness.check(at: now)
            switch verdict {
            case .heard: return [.setDeadline(.ping, at: next)]
            case .ping: return (isOpen ? [.write(Self.ping), .flush] : []) + [.setDeadline(.ping, at: next)]
            case .idle: return close(.idle, at: now)
            }
        case .deadlineReached(.tokenExpiry):
            guard isOpen else { return [] }
            if token.expiresAtDeadline { return close(.tokenExpired, at: now) }
            return [.setDeadline(.tokenExpiry, at: token.arm(now: now))]
        case .deadlineReached(.lifetime):
            return close(.lifetimeReached, at: now)
        case .deadlineReached(.closeTimeout):
            return handshake.phase == .closed ? [] : [.closeSocket]
        case .tokenVerified(let userID, let expiresAt, let allowedEntities):
            guard isOpen else { return [] }
            return answered(session.tokenVerified(userID: userID, expiresAt: expiresAt, allowedEntities: allowedEntities), at: now)
        case .tokenRefused(let code, let message):
            guard isOpen else { return [] }
            return answered(session.tokenRefused(code, message), at: now)
        case .hookAnswered(let answers):
            guard isOpen else { return [] }
            return answered(session.hookAnswered(answers, now: now.uptimeNanoseconds), at: now, resumingReading: true)
        case .subscribed(let order, let replay):
            guard isOpen else { return [] }
            return run(session.subscribed(order, replay), at: now)
        case .closeRequested(let reason):
            return close(reason, at: now)
        case .postRequested(let frame):
            return isOpen ? [.write(frame), .flush] : []
        case .writabilityLost:
            guard isOpen else { return [] }
            return [.count(.slowConsumerDisconnected)] + close(.slowConsumer, at: now)
        case .inputClosed, .failed, .abortRequested:
            return handshake.phase == .closed ? [] : [.closeSocket]
        case .inputBroken(let reason):
            return close(reason, at: now)
        case .socketClosed:
            guard handshake.phase != .closed else { return [] }
            let code = handshake.socketClosed()
            held = []
            var actions: [Action] = Deadline.allCases.map { .cancelDeadline($0) } + [.cancelHook]
            if !session.subscriptions.isEmpty { actions.append(.unsubscribe(Array(session.subscriptions))) }
            actions.append(.ended(closeCode: code))
            return actions
        }
    }

    // MARK: Helpers

    /// The client sent a frame: it is alive.
    private mutating func heard(at now: Moment) {
        liveness.heard(at: now.uptimeNanoseconds)
        lastActiveAt = now.secondsSince1970
    }

    /// A text or binary message: within the rate limit, handled now — or held, in order, while
    /// the session waits for an answer.
    private mutating func dataReceived(_ message: HeldMessage, at now: Moment) -> [Action] {
        guard isOpen else { return [] }
        if let refusal = admit(ping: false, at: now) { return refusal }
        guard session.isWaiting else { return process(message, at: now) }
        guard held.count < configuration.maxHeldMessages else { return close(.policyViolation, at: now) }
        held.append(message)
        return []
    }

    private mutating func process(_ message: HeldMessage, at now: Moment) -> [Action] {
        switch message {
        case .binary:
            return run(session.binaryReceived(), at: now)
        case .text(let bytes):
            guard let text = String(validating: bytes.readableBytesView, as: UTF8.self) else { return close(.invalidText, at: now) }
            return run(session.textReceived(text.utf8, now: now.uptimeNanoseconds), at: now)
        }
    }

    /// The session's answer to an outside question, then the messages held meanwhile, in order,
    /// until one waits again.
    private mutating func answered(_ actions: [SessionStateMachine.Action], at now: Moment, resumingReading: Bool = false) -> [Action] {
        var result = run(actions, at: now)
        if resumingReading { result.append(.resumeReading) }
        while isOpen, !session.isWaiting, !held.isEmpty {
            result += process(held.removeFirst(), at: now)
        }
        return result
    }

    /// The session's actions as the connection's; what they write is flushed at the end.
    private mutating func run(_ actions: [SessionStateMachine.Action], at now: Moment) -> [Action] {
        var result: [Action] = []
        var wrote = false
        for action in actions {
            switch action {
            case .write(let frame):
                result.append(.write(frame))
                wrote = true
            case .subscribe(let order):
                result.append(.subscribe(order))
            case .unsubscribe(let entities):
                result.append(.unsubscribe(entities))
            case .verifyToken(let token):
                result.append(.verifyToken(token))
            case .askHook(let entities):
                // Later messages wait: few arrive while reading is paused.
                result += [.pauseReading, .askHook(entities)]
            case .tokenReplaced(let expiresAt, _):
                result.append(.setDeadline(.tokenExpiry, at: token.arm(expiresAt: expiresAt, now: now)))
            }
        }
        if wrote { result.append(.flush) }
        return result
    }

    /// Applies `--max-messages-per-second` to a data message or a ping: nil to handle it. A
    /// refused message is answered `rate_limited`, a refused ping not at all; once a second's
    /// worth in a row was refused, the connection closes with `1008`.
    private mutating func admit(ping: Bool, at now: Moment) -> [Action]? {
        switch rateLimit.eventOccurred(now: now.uptimeNanoseconds) {
        case .handle:
            return nil
        case .refuse where ping:
            return [.count(.pingRateLimited)]
        case .refuse:
            let limit = configuration.maxMessagesPerSecond
            let error = ProtocolError(.rateLimited, "more than \(limit) messages per second; this one was dropped")
            return [.count(.messageRateLimited), .write(Push.error(error)), .flush]
        case .close:
            return [.count(.closedForFlooding)] + close(.policyViolation, at: now)
        }
    }

    /// Every close the server starts (a deadline's, an administrator's, a refused frame's, a
    /// flood's): the close frame, the output shut once it is out, and the client's further input
    /// read — reading resumes if it was paused — and dropped, for at most the close timeout.
    private mutating func close(_ reason: CloseReason, at now: Moment) -> [Action] {
        guard let frame = handshake.close(reason) else { return [] }
        held = []
        return [
            .sendClose(frame, then: .shutOutput),
            .setDeadline(.closeTimeout, at: now.uptime(after: configuration.closeTimeout)),
            .resumeReading,
        ]
    }
}
