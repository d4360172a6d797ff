#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// The standalone broker: events are numbered, kept and delivered in this process (its
/// `EntityStreams`), straight to the local hub. It forgets an entity as soon as it has no
/// subscriber and keeps no event, and never one that has a subscriber.
public final class MemoryBroker: Broker {
    private let streams: EntityStreams
    private let now: @Sendable () -> Date

    /// - Parameters:
    ///   - hub: where pushes are delivered.
    ///   - history: how much of each entity's stream is kept for resume, and of all together.
    ///   - now: the clock stamped into each push's `time` and used for history age (injected for tests).
    public init(
        hub: Hub,
        history: EntityHistory.Limits = EntityHistory.Limits(),
        shardCount: Int = 64,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        streams = EntityStreams(hub: hub, history: history, shardCount: shardCount)
        self.now = now
    }

    /// Numbers, keeps and delivers each event in turn and answers at once (nothing in this
    /// process can fail).
    public func publish(_ events: [Event], then answer: @escaping @Sendable (Result<[PublishReceipt], BrokerError>) -> Void) {
        answer(.success(publishNow(events)))
    }

    private func publishNow(_ events: [Event]) -> [PublishReceipt] {
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

    public func subscribe(_ outlet: any Outlet, to entity: EntityID, since: Int?, epoch: String?) -> Replay {
        streams.subscribe(outlet, to: entity, since: since, epoch: epoch, now: now())
    }

    public func unsubscribe(_ outlet: any Outlet, from entities: [EntityID]) {
        streams.unsubscribe(outlet, from: entities)
    }

    /// Frees events that outlived the history's age limit and forgets the entities left idle
    /// (the server calls this on a timer).
    @discardableResult
    public func evictExpiredHistory() -> EntityStreams.Sweep {
        streams.evictExpiredHistory(now: now())
    }

    public var streamFigures: EntityStreams.Figures { streams.figures }
}
