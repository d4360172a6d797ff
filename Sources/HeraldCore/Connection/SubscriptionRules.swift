/// One connection's subscriptions and the rules that admit them — the limit, the token's claim,
/// the authorisation hook's answers — as a value: requests in, decisions out, no I/O.
/// `SessionStateMachine` asks it about each entity of a message.
public struct SubscriptionRules: Sendable {
    /// What to do about a subscribe request.
    public enum SubscribeAction: Equatable, Sendable {
        /// A new subscription: acknowledge it and register it with the hub.
        case subscribe
        /// Already subscribed: acknowledge again, register nothing (one delivery per event).
        case acknowledge
        /// Refused with this error code.
        case refuse(ErrorCode)
    }

    public private(set) var subscriptions: Set<EntityID> = []
    /// The subscriptions the hook allowed and the claim did not: a refreshed claim does not end
    /// them (the hook is not asked about the token).
    private var allowedByHook: Set<EntityID> = []
    public let maxSubscriptions: Int
    /// What the token's claim allows when claim authorisation is on; nil when it is off.
    public private(set) var allowedEntities: EntityPatterns?
    /// True when the application's authorisation hook decides what the claim does not allow.
    public let asksHook: Bool
    /// The hook's answers this connection remembers: at most twice `maxSubscriptions`, each for the cache TTL.
    public private(set) var hookAnswers: HookAnswers

    /// - Parameters:
    ///   - hookCacheTTL: how long the hook's answers are remembered.
    ///   - subscriptions: what the connection is subscribed to already (a shape that keeps it elsewhere, between messages).
    public init(
        maxSubscriptions: Int,
        allowedEntities: EntityPatterns? = nil,
        asksHook: Bool = false,
        hookCacheTTL: Duration = .seconds(60),
        subscriptions: Set<EntityID> = []
    ) {
        self.subscriptions = subscriptions
        self.maxSubscriptions = maxSubscriptions
        self.allowedEntities = allowedEntities
        self.asksHook = asksHook
        hookAnswers = HookAnswers(capacity: asksHook ? 2 * maxSubscriptions : 1, ttl: hookCacheTTL)
    }

    /// Which of a subscribe's `entities` to ask the hook about, and the remembered answers for
    /// others. In order, an id is asked about only while the connection has room for it were
    /// every id before it allowed: ids already subscribed, allowed by the claim, or with a
    /// remembered answer need no call, and the rest — no room left — are answered
    /// `subscription_limit` without one. So one message asks at most `maxSubscriptions` questions,
    /// and none at all on a connection that is full.
    public func hookQuestions(for entities: [EntityID], now: UInt64) -> (ask: [EntityID], known: [EntityID: Bool]) {
        guard asksHook else { return ([], [:]) }
        var room = maxSubscriptions - subscriptions.count
        var ask: [EntityID] = []
        var known: [EntityID: Bool] = [:]
        var seen = Set<EntityID>()
        for entity in entities where !subscriptions.contains(entity) && seen.insert(entity).inserted {
            if allowedEntities?.allows(entity) == true {
                room -= 1
            } else if let answer = hookAnswers.answer(for: entity, now: now) {
                known[entity] = answer
                if answer { room -= 1 }
            } else if room > 0 {
                ask.append(entity)
                room -= 1
            }
        }
        return (ask, known)
    }

    /// The hook answered at `now`: remembered for the cache TTL (within the cache's bound).
    public mutating func hookAnswered(_ answers: [EntityID: Bool], now: UInt64) {
        for (entity, allowed) in answers { hookAnswers.record(entity, allowed: allowed, now: now) }
    }

    /// A refreshed token replaced the allowed entities: later subscriptions are checked against
    /// them, and the existing ones they no longer allow end. Returns those, in id order (none when
    /// claim authorisation is off; with the hook, one it allowed stays).
    public mutating func tokenRefreshed(allowedEntities: EntityPatterns?) -> [EntityID] {
        self.allowedEntities = allowedEntities
        guard let allowedEntities else { return [] }
        let revoked = subscriptions.filter { !allowedEntities.allows($0) && !allowedByHook.contains($0) }
        subscriptions.subtract(revoked)
        return revoked.sorted { $0.rawValue < $1.rawValue }
    }

    /// The client asked to subscribe to `entity`; `hookAnswer` is the hook's answer (asked or
    /// remembered), nil when it was not asked. Authorisation comes first, an entity already
    /// subscribed included: only then is it acknowledged again. An entity only the hook can allow
    /// that it was not asked about had no room (`hookQuestions`): `subscription_limit`.
    public mutating func subscribeRequested(_ entity: EntityID, hookAnswer: Bool? = nil) -> SubscribeAction {
        let subscribed = subscriptions.contains(entity)
        let allowedWithoutHook = isAllowedWithoutHook(entity) || (subscribed && allowedByHook.contains(entity))
        if !allowedWithoutHook {
            guard asksHook, let hookAnswer else { return .refuse(asksHook ? .subscriptionLimit : .forbidden) }
            guard hookAnswer else { return .refuse(.forbidden) }
        }
        if subscribed { return .acknowledge }
        guard subscriptions.count < maxSubscriptions else { return .refuse(.subscriptionLimit) }
        subscriptions.insert(entity)
        if !allowedWithoutHook { allowedByHook.insert(entity) }
        return .subscribe
    }

    /// The client asked to unsubscribe from `entity`; true when it was subscribed (unknown ids are not an error).
    public mutating func unsubscribeRequested(_ entity: EntityID) -> Bool {
        allowedByHook.remove(entity)
        return subscriptions.remove(entity) != nil
    }

    /// Authorisation off, or the token's claim allows `entity`.
    private func isAllowedWithoutHook(_ entity: EntityID) -> Bool {
        if let allowedEntities { return allowedEntities.allows(entity) }
        return !asksHook
    }
}
