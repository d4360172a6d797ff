#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif
import Synchronization

/// Every entity's stream on this node — its history and its live delivery to the local hub —
/// under one lock per shard of entities. Both brokers are built on it: the in-memory one
/// numbers events here, a cluster broker feeds it the events its database numbered.
///
/// An event is kept and handed to the hub under its entity's shard lock, so two events of one
/// entity reach every subscriber in `seq` order, and a resuming subscriber is registered and
/// given its replay between two events, never during one. Handing a push to the hub never
/// waits: the lock is held for one `execute` per event loop, whatever the fan-out.
public final class EntityStreams: Sendable {
    private final class Shard: Sendable {
        let streams = Mutex<[EntityID: EntityHistory]>([:])
    }

    /// What became of an event numbered elsewhere.
    public enum Acceptance: Equatable, Sendable {
        /// Kept and delivered.
        case delivered
        /// Already here (its `seq` is not after the stream's latest): dropped.
        case duplicate
        /// Events between the stream's latest `seq` and this one have not arrived: nothing was
        /// done. Fetch them and accept them first, or accept this one with `allowingGap`.
        case gap(after: Int)
    }

    public let hub: Hub
    private let shards: [Shard]
    private let limits: EntityHistory.Limits

    public init(hub: Hub, history: EntityHistory.Limits, shardCount: Int = 64) {
        self.hub = hub
        self.limits = history
        self.shards = (0..<shardCount).map { _ in Shard() }
    }

    /// Numbers the entity's next event, has it encoded, keeps it and delivers it; returns its `seq`.
    public func append(to entity: EntityID, at time: Date, encode: (_ seq: Int) -> WireFrame) -> Int {
        shard(for: entity).streams.withLock { streams in
            let (seq, frame) = streams[entity, default: EntityHistory(limits: limits)].append(at: time, encode: encode)
            hub.deliver(frame, toSubscribersOf: entity)
            return seq
        }
    }

    /// Keeps and delivers an event that was numbered elsewhere, if it is the entity's next one
    /// (or, `allowingGap`, any later one: the missing events are then lost to resume).
    public func accept(_ frame: WireFrame, seq: Int, of entity: EntityID, at time: Date, allowingGap: Bool = false) -> Acceptance {
        shard(for: entity).streams.withLock { streams in
            let latest = streams[entity]?.latestSeq ?? 0
            guard seq > latest else { return .duplicate }
            guard seq == latest + 1 || allowingGap else { return .gap(after: latest) }
            streams[entity, default: EntityHistory(limits: limits)].accept(frame, seq: seq, at: time)
            hub.deliver(frame, toSubscribersOf: entity)
            return .delivered
        }
    }

    /// Moves an entity's latest `seq` on to `seq` without delivering anything (a stream head
    /// loaded from storage whose events are no longer kept).
    public func skip(_ entity: EntityID, to seq: Int) {
        shard(for: entity).streams.withLock { streams in
            streams[entity, default: EntityHistory(limits: limits)].skip(to: seq)
        }
    }

    /// The `seq` of the entity's latest event here (0 before the first).
    public func latestSeq(of entity: EntityID) -> Int {
        shard(for: entity).streams.withLock { $0[entity]?.latestSeq ?? 0 }
    }

    /// Adds `outlet` to the subscribers of `entity` and returns what it missed after `since`
    /// (`nil`: nothing to replay), atomically with the entity's deliveries (see `Broker`).
    public func subscribe(_ outlet: any Outlet, to entity: EntityID, since: Int?, now: Date) -> Replay {
        shard(for: entity).streams.withLock { streams in
            hub.subscribe(outlet, to: entity)
            guard let since else { return .none }
            let history = streams[entity] ?? EntityHistory(limits: limits)
            return history.replay(after: since, now: now)
        }
    }

    /// Frees events that outlived the history's age limit. Each entity's latest `seq` stays, so
    /// its numbering goes on where it stopped.
    public func evictExpiredHistory(now: Date) {
        for shard in shards {
            shard.streams.withLock { streams in
                for index in streams.indices { streams.values[index].evictExpired(now: now) }
            }
        }
    }

    private func shard(for entity: EntityID) -> Shard {
        shards[Int(UInt(bitPattern: entity.hashValue) % UInt(shards.count))]
    }
}
