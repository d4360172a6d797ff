#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Synchronization

/// The standalone broker: events live in this process and go straight to the local hub.
///
/// Each entity's `seq` is assigned and its push delivered under the entity's shard lock, so
/// two publishes to one entity reach every subscriber in `seq` order. Handing the push to the
/// hub never waits: the lock is held for one `execute` per event loop, whatever the fan-out.
public final class MemoryBroker: Broker {
    private final class Shard: Sendable {
        let lastSeq = Mutex<[EntityID: Int]>([:])
    }

    private let hub: Hub
    private let shards: [Shard]
    private let now: @Sendable () -> Date

    /// - Parameters:
    ///   - hub: where pushes are delivered.
    ///   - now: the clock stamped into each push's `time` (injected for tests).
    public init(hub: Hub, shardCount: Int = 64, now: @escaping @Sendable () -> Date = { Date() }) {
        self.hub = hub
        self.shards = (0..<shardCount).map { _ in Shard() }
        self.now = now
    }

    public func publish(_ event: Event) async throws -> PublishReceipt {
        let eventID = UUID().uuidString.lowercased()
        let time = now().formatted(.iso8601)
        switch event {
        case .entityUpdated(let update):
            let shard = shards[Int(UInt(bitPattern: update.entityID.hashValue) % UInt(shards.count))]
            let seq = shard.lastSeq.withLock { lastSeq in
                let seq = lastSeq[update.entityID, default: 0] + 1
                lastSeq[update.entityID] = seq
                hub.deliver(Push.entityUpdated(update, seq: seq, id: eventID, time: time), toSubscribersOf: update.entityID)
                return seq
            }
            return PublishReceipt(eventID: eventID, seq: seq)
        case .userNotification(let notification):
            hub.deliver(Push.userNotification(notification, id: eventID, time: time), toUser: notification.userID)
            return PublishReceipt(eventID: eventID, seq: nil)
        }
    }
}
