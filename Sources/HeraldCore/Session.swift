import NIOCore
import Synchronization

/// One authenticated connection as the domain sees it: who it is, what it subscribed to,
/// and the outlet its frames go through. The transport feeds it client frames on the
/// outlet's event loop; everything between a frame in and the frames out happens here.
public final class Session: Sendable {
    public let userID: UserID
    /// The connection's socket; it owns this session, hence `unowned`.
    public unowned let outlet: any Outlet
    private let hub: Hub
    private let broker: any Broker
    private let machine: Mutex<SubscriptionRules>
    /// Monotonic nanoseconds, for the hook's remembered answers.
    private let clock: @Sendable () -> UInt64

    /// Creates the session and registers its outlet with the hub under `userID`.
    /// - Parameters:
    ///   - allowedEntities: what the token's claim allows when claim authorisation is on (nil: off).
    ///   - asksHook: whether the application's authorisation hook decides what the claim does not allow.
    ///   - hookCacheTTL: how long the hook's answers are remembered.
    ///   - clock: the current time in monotonic nanoseconds.
    public init(
        userID: UserID,
        outlet: any Outlet,
        hub: Hub,
        broker: any Broker,
        maxSubscriptions: Int,
        allowedEntities: EntityPatterns? = nil,
        asksHook: Bool = false,
        hookCacheTTL: Duration = .seconds(60),
        clock: @escaping @Sendable () -> UInt64 = { NIODeadline.now().uptimeNanoseconds }
    ) {
        self.userID = userID
        self.outlet = outlet
        self.hub = hub
        self.broker = broker
        self.clock = clock
        machine = Mutex(
            SubscriptionRules(maxSubscriptions: maxSubscriptions, allowedEntities: allowedEntities, asksHook: asksHook, hookCacheTTL: hookCacheTTL)
        )
        hub.connect(outlet, user: userID)
    }

    public var connectionID: ConnectionID { outlet.connectionID }

    /// The entities this connection is subscribed to.
    public var subscriptions: Set<EntityID> { machine.withLock { $0.subscriptions } }

    /// Handles one text frame (on the outlet's event loop); replies go to the outlet. Returns what
    /// the transport must do first when the message needs it (verify a token, ask the hook).
    public func receive(text bytes: some Collection<UInt8>) -> Followup? {
        switch ClientMessage.decode(bytes) {
        case .failure(let error):
            reply(error)
        case .success(let message):
            if let refusal = message.refusalOfLongEntityList(limit: machine.withLock { $0.maxSubscriptions }) {
                reply(refusal)
                return nil
            }
            switch message.action {
            case .subscribe(let entities, let since, let epoch):
                let resume = since.map { SubscribeRequest.Resume(since: $0, epoch: epoch) }
                var request = SubscribeRequest(entities: entities, resume: resume, requestID: message.requestID)
                (request.askHook, request.remembered) = machine.withLock { $0.hookQuestions(for: entities, now: clock()) }
                if !request.askHook.isEmpty { return .authorise(request) }
                subscribe(request, hookAnswers: [:])
            case .unsubscribe(let entities):
                for entity in entities { unsubscribe(entity, requestID: message.requestID) }
            case .ping:
                outlet.send(Push.pong(requestID: message.requestID))
            case .refresh(let token):
                return .refresh(RefreshRequest(token: token, requestID: message.requestID))
            }
        }
        return nil
    }

    /// Handles a binary frame: not part of the protocol, answered with `unsupported_frame`.
    public func receiveBinary() {
        reply(ProtocolError(.unsupportedFrame, "binary frames are not supported; send JSON text frames"))
    }

    /// A `refresh` was accepted: later subscriptions are checked against the new token's entities,
    /// and each existing one they no longer allow ends at once (no later publish reaches it), told
    /// with `{"type":"unsubscribed","entityId":…,"reason":"forbidden"}`. Call before the `refreshed` reply.
    public func tokenRefreshed(allowedEntities: EntityPatterns?) {
        let revoked = machine.withLock { $0.tokenRefreshed(allowedEntities: allowedEntities) }
        guard !revoked.isEmpty else { return }
        broker.unsubscribe(outlet, from: revoked)
        for entity in revoked { outlet.write(Push.unsubscribed(entity, reason: .forbidden, requestID: nil)) }
        outlet.flush()
    }

    /// Sends an error frame.
    public func reply(_ error: ProtocolError) {
        outlet.send(Push.error(error))
    }

    /// Removes the connection and its subscriptions (through the broker, which forgets entities
    /// nobody holds any more). Call once, when the connection ends.
    public func end() {
        broker.unsubscribe(outlet, from: Array(subscriptions))
        hub.disconnect(outlet, user: userID)
    }

    /// The hook answered `request.askHook` (an entity missing from `answers` counts as refused):
    /// the answers are remembered, then the subscribe is answered.
    public func hookAnswered(_ request: SubscribeRequest, answers: [EntityID: Bool]) {
        var answers = answers
        for entity in request.askHook where answers[entity] == nil { answers[entity] = false }
        machine.withLock { $0.hookAnswered(answers, now: clock()) }
        subscribe(request, hookAnswers: answers)
    }

    /// Subscribes to each entity of `request` in order, answering each; `hookAnswers` (with the
    /// request's remembered answers) holds what the hook said about the entities it was asked about.
    public func subscribe(_ request: SubscribeRequest, hookAnswers: [EntityID: Bool]) {
        for entity in request.entities {
            let answer = hookAnswers[entity] ?? request.remembered[entity]
            subscribe(entity, resume: request.resume, requestID: request.requestID, hookAnswer: answer)
        }
    }

    private func subscribe(_ entity: EntityID, resume: SubscribeRequest.Resume?, requestID: JSONValue?, hookAnswer: Bool?) {
        switch machine.withLock({ $0.subscribeRequested(entity, hookAnswer: hookAnswer) }) {
        case .subscribe:
            // The broker judges `since` against the entity's stream under its lock (its epoch included).
            let replay = broker.subscribe(outlet, to: entity, since: resume?.since, epoch: resume?.epoch)
            // Ack, then the missed events, all before any live push (those wait for this turn of the event loop).
            outlet.write(Push.subscribed(entity, recovered: replay.recovered, epoch: replay.epoch, requestID: requestID))
            for frame in replay.frames { outlet.write(frame) }
            outlet.flush()
        case .acknowledge:
            // Already live on this connection: nothing was missed since it subscribed.
            let epoch = broker.subscribe(outlet, to: entity, since: nil, epoch: nil).epoch
            outlet.send(Push.subscribed(entity, recovered: true, epoch: epoch, requestID: requestID))
        case .refuse(let code):
            reply(ProtocolError(code, refusal(code, entity: entity), requestID: requestID))
        }
    }

    private func unsubscribe(_ entity: EntityID, requestID: JSONValue?) {
        if machine.withLock({ $0.unsubscribeRequested(entity) }) {
            broker.unsubscribe(outlet, from: [entity])
        }
        outlet.send(Push.unsubscribed(entity, requestID: requestID))
    }

    private func refusal(_ code: ErrorCode, entity: EntityID) -> String {
        switch code {
        case .subscriptionLimit:
            "limit of \(machine.withLock { $0.maxSubscriptions }) subscriptions reached; unsubscribe from something first"
        case .forbidden:
            "this token does not allow subscribing to \(entity)"
        default:
            "subscription to \(entity) refused"
        }
    }
}
