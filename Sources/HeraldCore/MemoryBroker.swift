#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// The standalone broker: events are numbered, kept and delivered in this process (its
/// `EntityStreams`), straight to the local hub.
public final class MemoryBroker: Broker {
    public let epoch: String
    private let streams: EntityStreams
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
        streams = EntityStreams(hub: hub, history: history, shardCount: shardCount)
        self.now = now
        epoch = String(UInt64.random(in: 1...UInt64.max), radix: 36)
    }

    /// Numbers, keeps and delivers each event in turn (nothing in this process can fail).
    public func publish(_ events: [Event]) async throws -> [PublishReceipt] {
        let date = now()
        let time = date.formatted(.iso8601)
        return events.map { event in
            let eventID = EventID.next()
            switch event {
            case .entityUpdated(let update):
                let seq = streams.append(to: update.entityID, at: date) { seq in
                    Push.entityUpdated(update, seq: seq, id: eventID, time: time)
                }
                return PublishReceipt(eventID: eventID, seq: seq)
            case .userNotification(let notification):
                streams.hub.deliver(Push.userNotification(notification, id: eventID, time: time), toUser: notification.userID)
                return PublishReceipt(eventID: eventID, seq: nil)
            }
        }
    }

    public func subscribe(_ outlet: any Outlet, to entity: EntityID, since: Int?) -> Replay {
        streams.subscribe(outlet, to: entity, since: since, now: now())
    }

    /// Frees events that outlived the history's age limit (the server calls this on a timer).
    public func evictExpiredHistory() {
        streams.evictExpiredHistory(now: now())
    }
}
