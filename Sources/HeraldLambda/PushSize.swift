public import HeraldCore
import NIOCore

/// API Gateway posts at most 128 KB to a WebSocket connection: an event whose push would be
/// longer is refused where it is published, not retried until its queue gives up on it.
public enum PushSize {
    /// The longest `seq` (19 digits) an entity update's push can carry.
    static let longestSeq = Int(Int64.max)

    /// The bytes of the push `event` makes, with `id` and `time` (its `seq` at its longest).
    public static func bytes(of event: Event, id: String, time: String) -> Int {
        switch event {
        case .entityUpdated(let update): Push.entityUpdated(update, seq: longestSeq, id: id, time: time).payload.readableBytes
        case .userNotification(let notification): Push.userNotification(notification, id: id, time: time).payload.readableBytes
        }
    }

    /// Why `event` cannot be pushed, or nil when it can.
    public static func refusal(of event: Event, id: String, time: String) -> String? {
        let size = bytes(of: event, id: id, time: time)
        guard size > ManagementAPI.largestFrame else { return nil }
        return "the push would be \(size) bytes; API Gateway sends at most \(ManagementAPI.largestFrame) to a connection"
    }
}
