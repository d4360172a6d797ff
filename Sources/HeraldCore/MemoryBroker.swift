#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif
import Synchronization

/// The standalone broker: events and their history live in this process and go straight to the local hub.
///
/// Each entity's `seq` is assigned, its event appended to the history and its push handed to
/// the hub under the entity's shard lock, so two publishes to one entity reach every subscriber
/// in `seq` order, and a resuming subscriber is registered and given its replay between two
/// events, never during one. Handing the push to the hub never waits: the lock is held for one
/// `execute` per event loop, whatever the fan-out.
public final class MemoryBroker: Broker {
    private final class Shard: Sendable {
        let streams = Mutex<[EntityID: EntityHistory]>([:])
    }

    public let epoch: String
    private let hub: Hub
    private let shards: [Shard]
    private let historyLimits: EntityHistory.Limits
    private let now: @Sendable () -> Date

    /// - Parameters:
    ///   - hub: where pushes are delivered.
    ///   - history: how much of each entity's stream is kept for resume.
    ///   - now: the clock stamped into each push's `time` and used for history age (injected for tests).
    public init(
        hub: Hub,
        history: EntityHistory.Limits = EntityHistory.Limits(),
        shardCount: Int = 64,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.hub = hub
        self.historyLimits = history
        self.shards = (0..<shardCount).map { _ in Shard() }
        self.now = now
        epoch = String(UInt64.random(in: 1...UInt64.max), radix: 36)
    }

    public func publish(_ event: Event) async throws -> PublishReceipt {
        let eventID = EventID.next()
        let date = now()
        let time = date.formatted(.iso8601)
        let clock = ContinuousClock()
        switch event {
        case .entityUpdated(let update):
            return shard(for: update.entityID).streams.withLock { streams in
                let (seq, frame) = streams[update.entityID, default: EntityHistory(limits: historyLimits)].append(at: date) { seq in
                    Push.entityUpdated(update, seq: seq, id: eventID, time: time)
                }
                let start = clock.now
                let delivered = hub.deliver(frame, toSubscribersOf: update.entityID)
                return PublishReceipt(eventID: eventID, seq: seq, delivered: delivered, fanOutDuration: start.duration(to: clock.now))
            }
        case .userNotification(let notification):
            let frame = Push.userNotification(notification, id: eventID, time: time)
            let start = clock.now
            let delivered = hub.deliver(frame, toUser: notification.userID)
            return PublishReceipt(eventID: eventID, seq: nil, delivered: delivered, fanOutDuration: start.duration(to: clock.now))
        }
    }

    public func subscribe(_ outlet: any Outlet, to entity: EntityID, since: Int?) -> Replay {
        shard(for: entity).streams.withLock { streams in
            hub.subscribe(outlet, to: entity)
            guard let since else { return .none }
            let history = streams[entity] ?? EntityHistory(limits: historyLimits)
            return history.replay(after: since, now: now())
        }
    }

    /// Frees events that outlived the history's age limit (the broker calls this on a timer).
    /// Each entity's latest `seq` stays, so its numbering goes on where it stopped.
    public func evictExpiredHistory() {
        let date = now()
        for shard in shards {
            shard.streams.withLock { streams in
                for index in streams.indices { streams.values[index].evictExpired(now: date) }
            }
        }
    }

    private func shard(for entity: EntityID) -> Shard {
        shards[Int(UInt(bitPattern: entity.hashValue) % UInt(shards.count))]
    }
}
