/// An "Entity Updated" event: something about one entity changed.
public struct EntityUpdate: Equatable, Sendable {
    public var entityID: EntityID
    public var message: String?
    public var data: JSONValue?

    public init(entityID: EntityID, message: String? = nil, data: JSONValue? = nil) {
        self.entityID = entityID
        self.message = message
        self.data = data
    }
}

/// A "Send User Push Notification" event: a message for every connection of one user.
public struct UserNotification: Equatable, Sendable {
    public var userID: UserID
    public var message: String
    public var callback: String?

    public init(userID: UserID, message: String, callback: String? = nil) {
        self.userID = userID
        self.message = message
        self.callback = callback
    }
}

/// One publishable event, as a backend sends it (PROTOCOL.md §6).
public enum Event: Equatable, Sendable {
    case entityUpdated(EntityUpdate)
    case userNotification(UserNotification)

    /// The EventBridge detail type of an entity update.
    public static let entityUpdatedDetailType = "Entity Updated"
    /// The EventBridge detail type of a user notification.
    public static let userNotificationDetailType = "Send User Push Notification"
}

/// What the broker answers for an accepted event: its id, and its `seq` for entity updates.
public struct PublishReceipt: Equatable, Sendable {
    public var eventID: String
    public var seq: Int?

    public init(eventID: String, seq: Int?) {
        self.eventID = eventID
        self.seq = seq
    }
}
