import Synchronization

#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// Every entity's stream on this node — its epoch, its history and its live delivery to the
/// local hub — under one lock per shard of entities. Both brokers are built on it: the in-memory
/// one numbers events here, a cluster broker feeds it the events its database numbered.
///
/// An event is kept and handed to the hub under its entity's shard lock, so two events of one
/// entity reach every subscriber in `seq` order, and a resuming subscriber is registered and
/// given its replay between two events, never during one. Subscribing and unsubscribing go
/// through here too (lock order: streams, then hub), so whether an entity still has a
/// subscriber is decided under the same lock as its events. Handing a push to the hub never
/// waits: the lock is held for one `execute` per event loop, whatever the fan-out.
///
/// Memory is bounded over time (PROTOCOL.md §4): an entity with no subscriber and no kept event is
/// forgotten (at once, or — `forgetsIdleStreams` false — when its owner says so, see `forget`),
/// and all kept events together stay under `limits.maxBytes`: over it, the oldest kept events
/// of the node go first. Each shard keeps its events' arrival order and publishes the arrival
/// number of its oldest in an atomic, so the bound evicts from the shard holding the node's
/// oldest without taking every lock; across shards the order is that of arrival at the shard
/// lock, which is approximate when two publishes race.
public final class EntityStreams: Sendable {
    private final class Shard: Sendable {
        let state = Mutex(StreamShard())
        /// The arrival number of the shard's oldest kept event (`Int.max`: none).
        let oldestTicket = Atomic<Int>(.max)
    }

    /// What became of an event numbered elsewhere.
    public enum Acceptance: Equatable, Sendable {
        /// Kept and delivered.
        case delivered
        /// Already here (its `seq` is not after the stream's latest): dropped.
        case duplicate
        /// Events between the stream's latest `seq` and this one have not arrived: nothing was
        /// numbered. Fetch them and accept them first, or accept this one with `allowingGap`.
        case gap(after: Int)
    }

    /// What the node keeps now.
    public struct Figures: Equatable, Sendable {
        /// Entities with a stream here (subscribed, keeping events, or — in a cluster — known).
        public var streams: Int
        /// Events kept for resume, and their frame bytes.
        public var keptEvents: Int
        public var keptBytes: Int

        public init(streams: Int, keptEvents: Int, keptBytes: Int) {
            (self.streams, self.keptEvents, self.keptBytes) = (streams, keptEvents, keptBytes)
        }
    }

    /// What a sweep freed.
    public struct Sweep: Equatable, Sendable {
        /// Events dropped for their age.
        public var expiredEvents = 0
        /// Entities forgotten.
        public var forgotten = 0
        public init() {}
    }

    public let hub: Hub
    private let shards: [Shard]
    private let limits: EntityHistory.Limits
    private let forgetsIdleStreams: Bool
    /// The epoch that streams started here get; nil: a new random one each.
    private let newStreamEpoch = Mutex<String?>(nil)
    private let keptBytes = Atomic<Int>(0)
    private let keptEvents = Atomic<Int>(0)
    private let arrivals = Atomic<Int>(0)

    /// - Parameter forgetsIdleStreams: forget an entity as soon as it has no subscriber and keeps
    ///   no event (the in-memory broker); false keeps it until `forget` is called for it (a
    ///   cluster broker, whose database must have forgotten it first).
    public init(hub: Hub, history: EntityHistory.Limits, shardCount: Int = 64, forgetsIdleStreams: Bool = true) {
        self.hub = hub
        self.limits = history
        self.forgetsIdleStreams = forgetsIdleStreams
        self.shards = (0..<shardCount).map { _ in Shard() }
    }

    // MARK: Events

    /// Numbers the entity's next event, has it encoded, keeps it and delivers it; returns its `seq`.
    public func append(to entity: EntityID, at time: Date, encode: (_ seq: Int) -> WireFrame) -> Int {
        let seq = withShard(for: entity) { state in
            let (seq, subscribers) = state.update(entity, make: newStream, ticket: nextArrival) { stream in
                let (seq, frame) = stream.append(at: time, encode: encode)
                return (seq, hub.deliver(frame, toSubscribersOf: entity))
            }
            forgetIfIdle(entity, in: &state, subscribers: subscribers)
            return seq
        }
        enforceByteBound()
        return seq
    }

    /// Keeps and delivers an event that was numbered elsewhere in the stream run `epoch`, if it
    /// is the entity's next one (or, `allowingGap`, any later one: the missing events are then
    /// lost to resume).
    ///
    /// An event of another epoch than the stream's here means the stream was started again
    /// elsewhere (the cluster forgot it): the stream here starts over under that epoch, and its
    /// subscribers are first sent `{"type":"subscribed","recovered":…,"epoch":…}` — `recovered`
    /// true only when nothing was numbered here before and this is the new stream's first event.
    public func accept(
        _ frame: WireFrame,
        seq: Int,
        epoch: String,
        of entity: EntityID,
        at time: Date,
        allowingGap: Bool = false
    ) -> Acceptance {
        let acceptance = withShard(for: entity) { state -> Acceptance in
            if let current = state.streams[entity], current.epoch != epoch {
                let recovered = current.latestSeq == 0 && seq == 1
                state.replace(entity, with: EntityHistory(limits: limits, epoch: epoch))
                hub.deliver(Push.subscribed(entity, recovered: recovered, epoch: epoch, requestID: nil), toSubscribersOf: entity)
            }
            let latest = state.streams[entity]?.latestSeq ?? 0
            guard seq > latest else { return .duplicate }
            guard seq == latest + 1 || allowingGap else { return .gap(after: latest) }
            let subscribers = state.update(entity, make: { EntityHistory(limits: limits, epoch: epoch) }, ticket: nextArrival) { stream in
                stream.accept(frame, seq: seq, at: time)
                return hub.deliver(frame, toSubscribersOf: entity)
            }
            forgetIfIdle(entity, in: &state, subscribers: subscribers)
            return .delivered
        }
        enforceByteBound()
        return acceptance
    }

    /// Moves an entity's latest `seq` on to `seq` in the stream run `epoch` without delivering
    /// anything (a stream head loaded from storage whose events are no longer kept).
    public func skip(_ entity: EntityID, to seq: Int, epoch: String) {
        withShard(for: entity) { state in
            if let current = state.streams[entity], current.epoch != epoch {
                state.replace(entity, with: EntityHistory(limits: limits, epoch: epoch))
            }
            state.update(entity, make: { EntityHistory(limits: limits, epoch: epoch) }, ticket: nextArrival) { $0.skip(to: seq) }
        }
    }

    /// The `seq` of the entity's latest event here (0 before the first, or once forgotten).
    public func latestSeq(of entity: EntityID) -> Int {
        withShard(for: entity) { $0.streams[entity]?.latestSeq ?? 0 }
    }

    // MARK: Subscribers

    /// Adds `outlet` to the subscribers of `entity` and returns its stream's epoch and what the
    /// outlet missed after `since` (`nil`: nothing to replay), atomically with the entity's
    /// deliveries (see `Broker`). `since` of another `epoch` than the stream's is never
    /// recovered: those `seq`s were numbered in an earlier run of the stream. Without `epoch`,
    /// `since` alone decides.
    public func subscribe(_ outlet: any Outlet, to entity: EntityID, since: Int?, epoch: String? = nil, now: Date) -> Replay {
        withShard(for: entity) { state in
            hub.subscribe(outlet, to: entity)
            let stream = state.streams[entity] ?? newStream()
            if state.streams[entity] == nil { state.replace(entity, with: stream) }
            guard let since else { return .none(epoch: stream.epoch) }
            return stream.replay(after: since, epoch: epoch, now: now)
        }
    }

    /// Removes `outlet` from the subscribers of each of `entities`; an entity left with no
    /// subscriber and no kept event is forgotten (with `forgetsIdleStreams`).
    public func unsubscribe(_ outlet: any Outlet, from entities: some Sequence<EntityID>) {
        for entity in entities {
            withShard(for: entity) { state in
                let left = hub.unsubscribe(outlet, from: entity)
                forgetIfIdle(entity, in: &state, subscribers: left)
            }
        }
    }

    // MARK: Forgetting

    /// Frees events that outlived the history's age limit, and (with `forgetsIdleStreams`)
    /// forgets the entities left with no subscriber and no kept event. A stream that is kept
    /// keeps its latest `seq`, so its numbering goes on where it stopped.
    @discardableResult
    public func evictExpiredHistory(now: Date) -> Sweep {
        var sweep = Sweep()
        for shard in shards {
            withShard(shard) { state in
                let (events, streams) = (state.keptEvents, state.streams.count)
                let keepingNothing = state.evictExpired(now: now)
                for entity in keepingNothing { forgetIfIdle(entity, in: &state, subscribers: nil) }
                sweep.expiredEvents += events - state.keptEvents
                sweep.forgotten += streams - state.streams.count
            }
        }
        return sweep
    }

    /// The entities with no subscriber and no kept event (what a cluster broker asks its
    /// database about before it calls `forget`).
    public func idleEntities() -> [EntityID] {
        var idle: [EntityID] = []
        for shard in shards {
            withShard(shard) { state in
                for (entity, stream) in state.streams where stream.count == 0 && hub.subscriberCount(of: entity) == 0 {
                    idle.append(entity)
                }
            }
        }
        return idle
    }

    /// Forgets each of `entities` that still has no subscriber and no kept event; returns how many.
    @discardableResult
    public func forget(_ entities: some Sequence<EntityID>) -> Int {
        var forgotten = 0
        for entity in entities {
            withShard(for: entity) { state in
                if removeIfIdle(entity, in: &state, subscribers: nil) { forgotten += 1 }
            }
        }
        return forgotten
    }

    /// Streams started here from now on take `epoch` (a cluster's epoch for new streams) instead
    /// of a random one each.
    public func startNewStreams(under epoch: String) {
        newStreamEpoch.withLock { $0 = epoch }
    }

    // MARK: Figures

    /// What the node keeps now (the stream count takes each shard's lock in turn).
    public var figures: Figures {
        Figures(
            streams: shards.reduce(0) { total, shard in total + shard.state.withLock { $0.streams.count } },
            keptEvents: keptEvents.load(ordering: .relaxed),
            keptBytes: keptBytes.load(ordering: .relaxed)
        )
    }

    // MARK: Helpers

    private func newStream() -> EntityHistory {
        EntityHistory(limits: limits, epoch: newStreamEpoch.withLock { $0 } ?? EntityHistory.newEpoch())
    }

    private func nextArrival() -> Int {
        arrivals.wrappingAdd(1, ordering: .relaxed).newValue
    }

    private func forgetIfIdle(_ entity: EntityID, in state: inout StreamShard, subscribers: Int?) {
        guard forgetsIdleStreams else { return }
        removeIfIdle(entity, in: &state, subscribers: subscribers)
    }

    /// Removes the entity's stream if it keeps no event and has no subscriber (`subscribers`, or
    /// the hub's count when nil); true when it did.
    @discardableResult
    private func removeIfIdle(_ entity: EntityID, in state: inout StreamShard, subscribers: Int?) -> Bool {
        guard state.streams[entity]?.count == 0, (subscribers ?? hub.subscriberCount(of: entity)) == 0 else { return false }
        state.replace(entity, with: nil)
        return true
    }

    /// Evicts the node's oldest kept events until their bytes are within `limits.maxBytes`.
    private func enforceByteBound() {
        while keptBytes.load(ordering: .relaxed) > limits.maxBytes {
            var oldest: Shard?
            var oldestTicket = Int.max
            for shard in shards {
                let ticket = shard.oldestTicket.load(ordering: .relaxed)
                if ticket < oldestTicket { (oldest, oldestTicket) = (shard, ticket) }
            }
            guard let oldest else { return }
            withShard(oldest) { state in
                if let entity = state.evictOldest() { forgetIfIdle(entity, in: &state, subscribers: nil) }
            }
        }
    }

    private func withShard<Result: Sendable>(for entity: EntityID, _ body: (inout StreamShard) -> Result) -> Result {
        withShard(shards[Int(UInt(bitPattern: entity.hashValue) % UInt(shards.count))], body)
    }

    /// Runs `body` under the shard's lock, then tidies the shard's order and books what changed
    /// in the node's totals.
    private func withShard<Result: Sendable>(_ shard: Shard, _ body: (inout StreamShard) -> Result) -> Result {
        let (result, bytes, events) = shard.state.withLock { state in
            let before = (bytes: state.keptBytes, events: state.keptEvents)
            let result = body(&state)
            state.tidy()
            shard.oldestTicket.store(state.oldestTicket, ordering: .relaxed)
            return (result, state.keptBytes - before.bytes, state.keptEvents - before.events)
        }
        if bytes != 0 { keptBytes.add(bytes, ordering: .relaxed) }
        if events != 0 { keptEvents.add(events, ordering: .relaxed) }
        return result
    }
}
