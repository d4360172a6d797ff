import NIOCore
import Synchronization

/// Who receives what on this node: entity → subscribed outlets, user → that user's outlets.
///
/// Sharded `Mutex`es keep publishers of different entities apart. Each key's outlets are kept
/// grouped by event loop, so a delivery is one batch per event loop (not per subscriber): the
/// frame encoded once and a copy-on-write snapshot of that loop's outlets, queued on the loop's
/// `DeliveryQueue`, which writes the same bytes to each socket. Delivery never waits.
public final class Hub: Sendable {
    fileprivate final class Shard<Key: Hashable & Sendable>: Sendable {
        let registry = Mutex<[Key: Recipients]>([:])
    }

    private let entityShards: [Shard<EntityID>]
    fileprivate let userShards: [Shard<UserID>]
    private let subscriptionCount = Atomic<Int>(0)
    private let connectionCount = Atomic<Int>(0)
    /// Set by `closeAll`: a connection registered later is closed at once, with this reason.
    private let closingReason = Mutex<CloseReason?>(nil)
    private let queues = Mutex<[ObjectIdentifier: DeliveryQueue]>([:])
    private let observer: (any DeliveryObserver)?

    /// - Parameters:
    ///   - shardCount: lock stripes per index; more means less contention between entities.
    ///   - observer: told the subscriber count and fan-out time of every delivery.
    public init(shardCount: Int = 64, observer: (any DeliveryObserver)? = nil) {
        entityShards = (0..<shardCount).map { _ in Shard() }
        userShards = (0..<shardCount).map { _ in Shard() }
        self.observer = observer
    }

    // MARK: Registration

    /// Registers a connection of `user`, so that user notifications reach it.
    public func connect(_ outlet: any Outlet, user: UserID) {
        let queue = queue(for: outlet.eventLoop)
        Self.shard(for: user, in: userShards).registry.withLock { _ = $0[user, default: Recipients()].insert(outlet, queue: queue) }
        connectionCount.add(1, ordering: .relaxed)
        // Read after the insert: either `closeAll` found it in the registry or this sees its reason.
        if let reason = closingReason.withLock({ $0 }) { outlet.eventLoop.execute { outlet.close(reason) } }
    }

    /// Removes a connection of `user` (its subscriptions go through `EntityStreams.unsubscribe` first).
    public func disconnect(_ outlet: any Outlet, user: UserID) {
        Self.remove(outlet, for: user, in: Self.shard(for: user, in: userShards))
        connectionCount.subtract(1, ordering: .relaxed)
    }

    /// Adds `outlet` to the subscribers of `entity` (`EntityStreams` calls this under its lock).
    public func subscribe(_ outlet: any Outlet, to entity: EntityID) {
        let queue = queue(for: outlet.eventLoop)
        let inserted = Self.shard(for: entity, in: entityShards).registry.withLock {
            $0[entity, default: Recipients()].insert(outlet, queue: queue)
        }
        if inserted { subscriptionCount.add(1, ordering: .relaxed) }
    }

    /// Removes `outlet` from the subscribers of `entity` (`EntityStreams` calls this under its
    /// lock); returns how many subscribers the entity has left.
    @discardableResult
    public func unsubscribe(_ outlet: any Outlet, from entity: EntityID) -> Int {
        let (removed, left) = Self.shard(for: entity, in: entityShards).registry.withLock { registry in
            let removed = registry[entity]?.remove(outlet) == true
            if registry[entity]?.isEmpty == true { registry[entity] = nil }
            return (removed, registry[entity]?.count ?? 0)
        }
        if removed { subscriptionCount.subtract(1, ordering: .relaxed) }
        return left
    }

    /// How many local subscribers `entity` has.
    public func subscriberCount(of entity: EntityID) -> Int {
        Self.shard(for: entity, in: entityShards).registry.withLock { $0[entity]?.count ?? 0 }
    }

    /// Every entity with a local subscriber (what a cluster node tells its database it holds).
    public func subscribedEntities() -> [EntityID] {
        entityShards.flatMap { shard in shard.registry.withLock { Array($0.keys) } }
    }

    // MARK: Delivery

    /// Sends one pre-encoded frame to every local subscriber of `entity`; returns how many there were.
    ///
    /// The batches are handed to the event loops under the entity's lock, so two deliveries for
    /// one entity reach every subscriber in the order they were made.
    @discardableResult
    public func deliver(_ frame: WireFrame, toSubscribersOf entity: EntityID) -> Int {
        observed { Self.shard(for: entity, in: entityShards).registry.withLock { $0[entity]?.deliver(frame) ?? 0 } }
    }

    /// Sends one pre-encoded frame to every local connection of `user`; returns how many there were.
    @discardableResult
    public func deliver(_ frame: WireFrame, toUser user: UserID) -> Int {
        observed { Self.shard(for: user, in: userShards).registry.withLock { $0[user]?.deliver(frame) ?? 0 } }
    }

    /// Runs one delivery and tells the observer its count and duration.
    private func observed(_ delivery: () -> Int) -> Int {
        guard let observer else { return delivery() }
        let clock = ContinuousClock()
        let start = clock.now
        let count = delivery()
        observer.delivered(to: count, fanOut: start.duration(to: clock.now))
        return count
    }

    /// Asks every connection to close with `reason`, once, and every connection registered from
    /// now on as soon as it is (used when draining).
    public func closeAll(_ reason: CloseReason) {
        closingReason.withLock { $0 = reason }
        for shard in userShards {
            shard.registry.withLock { registry in
                for recipients in registry.values { recipients.forEach { $0.close(reason) } }
            }
        }
    }

    // MARK: Figures

    /// Open connections registered with the hub.
    public var connections: Int { connectionCount.load(ordering: .relaxed) }
    /// Open connections of `user` on this node.
    public func connections(of user: UserID) -> Int {
        Self.shard(for: user, in: userShards).registry.withLock { $0[user]?.count ?? 0 }
    }
    /// The local connections of `user`.
    public func outlets(of user: UserID) -> [any Outlet] {
        Self.shard(for: user, in: userShards).registry.withLock { $0[user]?.outlets ?? [] }
    }
    /// Subscriptions across all connections.
    public var subscriptions: Int { subscriptionCount.load(ordering: .relaxed) }
    /// Entities with at least one subscriber.
    public var entities: Int { entityShards.reduce(0) { $0 + $1.registry.withLock { $0.count } } }

    // MARK: Helpers

    /// The delivery queue of `eventLoop`, made on first use.
    private func queue(for eventLoop: any EventLoop) -> DeliveryQueue {
        queues.withLock { queues in
            if let queue = queues[ObjectIdentifier(eventLoop)] { return queue }
            let queue = DeliveryQueue(eventLoop: eventLoop)
            queues[ObjectIdentifier(eventLoop)] = queue
            return queue
        }
    }

    private static func shard<Key>(for key: Key, in shards: [Shard<Key>]) -> Shard<Key> {
        shards[Int(UInt(bitPattern: key.hashValue) % UInt(shards.count))]
    }

    private static func remove<Key>(_ outlet: any Outlet, for key: Key, in shard: Shard<Key>) {
        shard.registry.withLock { registry in
            guard registry[key]?.remove(outlet) == true else { return }
            if registry[key]?.isEmpty == true { registry[key] = nil }
        }
    }
}

/// The outlets of one entity or user, grouped by the event loop that owns them.
private struct Recipients {
    private struct Group {
        let queue: DeliveryQueue
        var outlets: [ConnectionID: any Outlet]
        var eventLoop: any EventLoop { queue.eventLoop }
    }

    private var groups: [Group] = []

    var isEmpty: Bool { groups.isEmpty }
    var outlets: [any Outlet] { groups.flatMap { $0.outlets.values } }
    var count: Int { groups.reduce(0) { $0 + $1.outlets.count } }

    /// Adds `outlet`; false when it was already there.
    mutating func insert(_ outlet: any Outlet, queue: DeliveryQueue) -> Bool {
        if let index = groups.firstIndex(where: { $0.eventLoop === outlet.eventLoop }) {
            return groups[index].outlets.updateValue(outlet, forKey: outlet.connectionID) == nil
        }
        groups.append(Group(queue: queue, outlets: [outlet.connectionID: outlet]))
        return true
    }

    /// Removes `outlet`; false when it was not there.
    mutating func remove(_ outlet: any Outlet) -> Bool {
        guard let index = groups.firstIndex(where: { $0.eventLoop === outlet.eventLoop }),
            groups[index].outlets.removeValue(forKey: outlet.connectionID) != nil
        else { return false }
        if groups[index].outlets.isEmpty { groups.remove(at: index) }
        return true
    }

    /// Queues `frame` for every outlet: one batch per event loop. Returns the outlet count.
    func deliver(_ frame: WireFrame) -> Int {
        var count = 0
        for group in groups {
            count += group.outlets.count
            group.queue.enqueue(frame, to: group.outlets)
        }
        return count
    }

    /// Runs `body` for each outlet on the outlet's event loop: one `execute` per loop, not per
    /// outlet. Returns the outlet count.
    @discardableResult
    func forEach(onItsEventLoop body: @escaping @Sendable (any Outlet) -> Void) -> Int {
        var count = 0
        for group in groups {
            let outlets = group.outlets
            count += outlets.count
            group.eventLoop.execute {
                for outlet in outlets.values { body(outlet) }
            }
        }
        return count
    }
}
