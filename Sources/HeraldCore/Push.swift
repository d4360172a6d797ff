import NIOCore

/// Server → client frames (PROTOCOL.md §2, PROTOCOL.md §4), each encoded once into the WebSocket frame sent on the wire.
public enum Push {
    /// The push type of an entity update.
    public static let entityUpdatedType = "Entity Updated"
    /// The push type of a user notification.
    public static let userNotificationType = "User Push Notification"

    /// `{"type":"Entity Updated","entityId","message","data","seq","id","time"}`.
    public static func entityUpdated(_ update: EntityUpdate, seq: Int, id: String, time: String) -> WireFrame {
        let parts = entityUpdated(update, id: id, time: time)
        var payload = parts.beforeSeq
        payload.writeString(String(seq))
        payload.writeImmutableBuffer(parts.afterSeq)
        return .text(payload)
    }

    /// An entity update's push without its `seq`, cut where the number goes: `beforeSeq`, the
    /// digits, then `afterSeq` are the payload. A broker whose database numbers events joins
    /// them there, so every node sends the same bytes.
    public static func entityUpdated(_ update: EntityUpdate, id: String, time: String) -> (beforeSeq: ByteBuffer, afterSeq: ByteBuffer) {
        var object = JSONObjectWriter()
        object.add("type", entityUpdatedType)
        object.add("entityId", update.entityID.rawValue)
        object.add("message", ifPresent: update.message)
        object.add("data", ifPresent: update.data)
        let beforeSeq = object.cut(beforeValueOf: "seq")
        object.add("id", id)
        object.add("time", time)
        return (beforeSeq, object.finish())
    }

    /// `{"type":"User Push Notification","message","callback","id","time"}`.
    public static func userNotification(_ notification: UserNotification, id: String, time: String) -> WireFrame {
        var object = JSONObjectWriter()
        object.add("type", userNotificationType)
        object.add("message", notification.message)
        object.add("callback", ifPresent: notification.callback)
        object.add("id", id)
        object.add("time", time)
        return .text(object.finish())
    }

    /// `{"type":"subscribed","entityId","recovered","epoch","requestId"}`.
    public static func subscribed(_ entity: EntityID, recovered: Bool, epoch: String, requestID: JSONValue?) -> WireFrame {
        var object = JSONObjectWriter(capacity: 80 + entity.rawValue.utf8.count)
        object.add("type", "subscribed")
        object.add("entityId", entity.rawValue)
        object.add("recovered", recovered)
        object.add("epoch", epoch)
        object.add("requestId", ifPresent: requestID)
        return .text(object.finish())
    }

    /// `{"type":"unsubscribed","entityId","reason","requestId"}`: `reason` only when the server
    /// ended the subscription itself (a refreshed token no longer allows it), with no `requestId`.
    public static func unsubscribed(_ entity: EntityID, reason: ErrorCode? = nil, requestID: JSONValue?) -> WireFrame {
        var object = JSONObjectWriter(capacity: 80 + entity.rawValue.utf8.count)
        object.add("type", "unsubscribed")
        object.add("entityId", entity.rawValue)
        object.add("reason", ifPresent: reason?.rawValue)
        object.add("requestId", ifPresent: requestID)
        return .text(object.finish())
    }

    /// `{"type":"refreshed","expiresAt","requestId"}`.
    public static func refreshed(expiresAt: Int, requestID: JSONValue?) -> WireFrame {
        var object = JSONObjectWriter(capacity: 64)
        object.add("type", "refreshed")
        object.add("expiresAt", expiresAt)
        object.add("requestId", ifPresent: requestID)
        return .text(object.finish())
    }

    /// `{"type":"pong","requestId"}`.
    public static func pong(requestID: JSONValue?) -> WireFrame {
        var object = JSONObjectWriter(capacity: 48)
        object.add("type", "pong")
        object.add("requestId", ifPresent: requestID)
        return .text(object.finish())
    }

    /// `{"type":"error","code","message","requestId"}`.
    public static func error(_ error: ProtocolError) -> WireFrame {
        var object = JSONObjectWriter(capacity: 96 + error.message.utf8.count)
        object.add("type", "error")
        object.add("code", error.code.rawValue)
        object.add("message", error.message)
        object.add("requestId", ifPresent: error.requestID)
        return .text(object.finish())
    }
}
