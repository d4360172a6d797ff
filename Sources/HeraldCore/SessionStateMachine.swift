/// One connection's subscriptions and limits, as a value: events in, actions out, no I/O.
public struct SessionStateMachine: Sendable {
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
    public let maxSubscriptions: Int
    /// What the token's claim allows when claim authorisation is on; nil when it is off.
    public private(set) var allowedEntities: EntityPatterns?
    /// True when the application's authorisation hook decides what the claim does not allow.
    public let asksHook: Bool

    public init(maxSubscriptions: Int, allowedEntities: EntityPatterns? = nil, asksHook: Bool = false) {
        self.maxSubscriptions = maxSubscriptions
        self.allowedEntities = allowedEntities
        self.asksHook = asksHook
    }

    /// True when subscribing to `entity` needs the hook's answer first.
    public func needsHook(_ entity: EntityID) -> Bool {
        asksHook && !subscriptions.contains(entity) && allowedEntities?.allows(entity) != true
    }

    /// A refreshed token replaced the allowed entities; they apply to later subscriptions.
    public mutating func tokenRefreshed(allowedEntities: EntityPatterns?) {
        self.allowedEntities = allowedEntities
    }

    /// The client asked to subscribe to `entity`; `approvedByHook` is the hook's answer, when it was asked.
    public mutating func subscribeRequested(_ entity: EntityID, approvedByHook: Bool = false) -> SubscribeAction {
        if subscriptions.contains(entity) { return .acknowledge }
        guard isAllowedWithoutHook(entity) || approvedByHook else { return .refuse(.forbidden) }
        guard subscriptions.count < maxSubscriptions else { return .refuse(.subscriptionLimit) }
        subscriptions.insert(entity)
        return .subscribe
    }

    /// The client asked to unsubscribe from `entity`; true when it was subscribed (unknown ids are not an error).
    public mutating func unsubscribeRequested(_ entity: EntityID) -> Bool {
        subscriptions.remove(entity) != nil
    }

    /// Authorisation off, or the token's claim allows `entity`.
    private func isAllowedWithoutHook(_ entity: EntityID) -> Bool {
        if let allowedEntities { return allowedEntities.allows(entity) }
        return !asksHook
    }
}
