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
    /// What the token allows when subscription authorisation is on; nil when it is off.
    public private(set) var allowedEntities: EntityPatterns?

    public init(maxSubscriptions: Int, allowedEntities: EntityPatterns? = nil) {
        self.maxSubscriptions = maxSubscriptions
        self.allowedEntities = allowedEntities
    }

    /// A refreshed token replaced the allowed entities; they apply to later subscriptions.
    public mutating func tokenRefreshed(allowedEntities: EntityPatterns?) {
        self.allowedEntities = allowedEntities
    }

    /// The client asked to subscribe to `entity`.
    public mutating func subscribeRequested(_ entity: EntityID) -> SubscribeAction {
        if subscriptions.contains(entity) { return .acknowledge }
        if let allowedEntities, !allowedEntities.allows(entity) { return .refuse(.forbidden) }
        guard subscriptions.count < maxSubscriptions else { return .refuse(.subscriptionLimit) }
        subscriptions.insert(entity)
        return .subscribe
    }

    /// The client asked to unsubscribe from `entity`; true when it was subscribed (unknown ids are not an error).
    public mutating func unsubscribeRequested(_ entity: EntityID) -> Bool {
        subscriptions.remove(entity) != nil
    }
}
