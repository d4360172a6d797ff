/// One client's session as every deployment shape runs it (PROTOCOL.md §2): who the client is,
/// what it may subscribe to and has subscribed to, and its messages in, the actions that answer
/// them out. No I/O and no transport: the standalone server's connection (`ConnectionStateMachine`)
/// and the AWS shape's WebSocket function drive this same value, so a message gets the same
/// frames from either.
///
/// A message that needs an answer from outside — a `refresh` token to verify, entities only the
/// authorisation hook can allow — ends with the action that asks for it (`verifyToken`,
/// `askHook`); the session then waits (`isWaiting`) until the transport reports the answer
/// (`tokenVerified`/`tokenRefused`, `hookAnswered`), and the transport holds later messages
/// meanwhile, so replies keep the order of the messages.
public struct SessionStateMachine: Sendable {
    /// The user never changes: a `refresh` must name the same one.
    public let userID: UserID
    /// The connection's subscriptions and the rules that admit them.
    public private(set) var rules: SubscriptionRules
    /// The outside answer the session waits for before its next message.
    private var waiting: Question?

    private enum Question: Sendable {
        /// A `refresh` whose token is being verified; its replies echo `requestID`.
        case token(requestID: JSONValue?)
        /// A `subscribe` whose entities the hook is being asked about.
        case hook(SubscribeRequest)
    }

    /// A `subscribe` decided entity by entity once the hook's answers are in.
    private struct SubscribeRequest: Sendable {
        var entities: [EntityID]
        var since: Int?
        var epoch: String?
        var requestID: JSONValue?
        /// The entities the hook is asked about.
        var askHook: [EntityID] = []
        /// The hook's remembered answers for other entities of the message.
        var remembered: [EntityID: Bool] = [:]
    }

    /// - Parameters:
    ///   - allowedEntities: what the token's claim allows when claim authorisation is on (nil: off).
    ///   - asksHook: whether the application's authorisation hook decides what the claim does not allow.
    ///   - hookCacheTTL: how long the hook's answers are remembered.
    ///   - subscriptions: what the connection is subscribed to already (the AWS shape keeps it in its table).
    public init(
        userID: UserID,
        maxSubscriptions: Int,
        allowedEntities: EntityPatterns? = nil,
        asksHook: Bool = false,
        hookCacheTTL: Duration = .seconds(60),
        subscriptions: Set<EntityID> = []
    ) {
        self.userID = userID
        rules = SubscriptionRules(
            maxSubscriptions: maxSubscriptions,
            allowedEntities: allowedEntities,
            asksHook: asksHook,
            hookCacheTTL: hookCacheTTL,
            subscriptions: subscriptions
        )
    }

    /// The entities this connection is subscribed to.
    public var subscriptions: Set<EntityID> { rules.subscriptions }

    /// True while a `refresh` or a `subscribe` waits for its answer from outside: the transport
    /// holds later messages until it has reported the answer.
    public var isWaiting: Bool { waiting != nil }

    // MARK: Messages

    /// One text message (valid UTF-8, as the WebSocket layer checked); `now` is monotonic
    /// nanoseconds, for the hook's remembered answers. Call only while not `isWaiting`.
    public mutating func textReceived(_ text: some Collection<UInt8>, now: UInt64) -> [Action] {
        precondition(waiting == nil, "a message arrived while the session waits for an answer; hold it")
        let message: ClientMessage
        switch ClientMessage.decode(text) {
        case .failure(let error): return [.write(Push.error(error))]
        case .success(let decoded): message = decoded
        }
        if let refusal = message.refusalOfLongEntityList(limit: rules.maxSubscriptions) {
            return [.write(Push.error(refusal))]
        }
        let requestID = message.requestID
        switch message.action {
        case .subscribe(let entities, let since, let epoch):
            var request = SubscribeRequest(entities: entities, since: since, epoch: epoch, requestID: requestID)
            (request.askHook, request.remembered) = rules.hookQuestions(for: entities, now: now)
            guard request.askHook.isEmpty else {
                waiting = .hook(request)
                return [.askHook(request.askHook)]
            }
            return subscribe(request, hookAnswers: [:])
        case .unsubscribe(let entities):
            var ended: [EntityID] = []
            for entity in entities where rules.unsubscribeRequested(entity) { ended.append(entity) }
            // Ids the client was not subscribed to are acked too.
            return (ended.isEmpty ? [] : [.unsubscribe(ended)]) + entities.map { .write(Push.unsubscribed($0, requestID: requestID)) }
        case .ping:
            return [.write(Push.pong(requestID: requestID))]
        case .refresh(let token):
            waiting = .token(requestID: requestID)
            return [.verifyToken(token)]
        }
    }

    /// A binary message: not part of the protocol.
    public func binaryReceived() -> [Action] {
        [.write(Push.error(ProtocolError(.unsupportedFrame, "binary frames are not supported; send JSON text frames")))]
    }

    // MARK: Answers from outside

    /// The `refresh` token verified: for the same user it replaces the old one — later
    /// subscriptions are checked against its entities, and each existing one they no longer
    /// allow ends, told with `{"type":"unsubscribed","entityId":…,"reason":"forbidden"}` before
    /// the `refreshed` reply; another user's is refused.
    public mutating func tokenVerified(userID: UserID, expiresAt: Int, allowedEntities: EntityPatterns?) -> [Action] {
        guard case .token(let requestID) = waiting else { return [] }
        waiting = nil
        guard userID == self.userID else {
            return [.write(Push.error(ProtocolError(.forbidden, "the new token belongs to another user", requestID: requestID)))]
        }
        // The subscriptions the new claim no longer allows end at once, each told before the reply.
        let revoked = rules.tokenRefreshed(allowedEntities: allowedEntities)
        var actions: [Action] = revoked.isEmpty ? [] : [.unsubscribe(revoked)]
        actions += revoked.map { .write(Push.unsubscribed($0, reason: .forbidden, requestID: nil)) }
        return actions + [
            .tokenReplaced(expiresAt: expiresAt, allowedEntities: allowedEntities),
            .write(Push.refreshed(expiresAt: expiresAt, requestID: requestID)),
        ]
    }

    /// The `refresh` token failed its checks (`token_expired` or `token_invalid`, and why): the old one stays.
    public mutating func tokenRefused(_ code: ErrorCode, _ message: String) -> [Action] {
        guard case .token(let requestID) = waiting else { return [] }
        waiting = nil
        return [.write(Push.error(ProtocolError(code, message, requestID: requestID)))]
    }

    /// The hook answered the entities of `askHook` (one missing from `answers` counts as
    /// refused, at `now`): the answers are remembered, then the subscribe is answered.
    public mutating func hookAnswered(_ answers: [EntityID: Bool], now: UInt64) -> [Action] {
        guard case .hook(let request) = waiting else { return [] }
        waiting = nil
        var answers = answers
        for entity in request.askHook where answers[entity] == nil { answers[entity] = false }
        rules.hookAnswered(answers, now: now)
        return subscribe(request, hookAnswers: answers)
    }

    /// The transport registered the subscription of `order` and found what it missed: its ack,
    /// then the missed events, oldest first.
    public func subscribed(_ order: SubscribeOrder, _ replay: Replay) -> [Action] {
        [.write(Push.subscribed(order.entity, recovered: replay.recovered, epoch: replay.epoch, requestID: order.requestID))]
            + replay.frames.map { .write($0) }
    }

    // MARK: Helpers

    /// Each entity of `request` in order: subscribed (or acked again), or refused with its error.
    private mutating func subscribe(_ request: SubscribeRequest, hookAnswers: [EntityID: Bool]) -> [Action] {
        request.entities.map { entity in
            let answer = hookAnswers[entity] ?? request.remembered[entity]
            switch rules.subscribeRequested(entity, hookAnswer: answer) {
            case .subscribe:
                // The broker judges `since` against the entity's stream (its epoch included).
                return .subscribe(SubscribeOrder(entity: entity, since: request.since, epoch: request.epoch, requestID: request.requestID))
            case .acknowledge:
                // Already live on this connection: nothing was missed since it subscribed.
                return .subscribe(SubscribeOrder(entity: entity, since: nil, epoch: nil, requestID: request.requestID))
            case .refuse(let code):
                return .write(Push.error(ProtocolError(code, refusal(code, entity: entity), requestID: request.requestID)))
            }
        }
    }

    private func refusal(_ code: ErrorCode, entity: EntityID) -> String {
        switch code {
        case .subscriptionLimit: "limit of \(rules.maxSubscriptions) subscriptions reached; unsubscribe from something first"
        case .forbidden: "this token does not allow subscribing to \(entity)"
        default: "subscription to \(entity) refused"
        }
    }
}
