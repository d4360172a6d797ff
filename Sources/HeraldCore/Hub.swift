public import NIOCore
import Synchronization

/// Who receives what on this node: entity → subscribed mailboxes, user → that user's mailboxes.
///
/// Sharded `Mutex`es keep publishers of different entities apart. Delivery snapshots the
/// mailboxes under the shard lock and posts the same pre-encoded bytes to each outside it:
/// per subscriber a lock, an append and at most one wake-up — never an `await`.
public final class Hub: Sendable {
    fileprivate typealias Registry<Key: Hashable> = [Key: [ConnectionID: Mailbox]]

    fileprivate final class Shard<Key: Hashable & Sendable>: Sendable {
        let registry = Mutex<Registry<Key>>([:])
    }

    private let entityShards: [Shard<EntityID>]
    fileprivate let userShards: [Shard<UserID>]
    private let subscriptionCount = Atomic<Int>(0)
    private let connectionCount = Atomic<Int>(0)

    /// - Parameter shardCount: lock stripes per index; more means less contention between entities.
    public init(shardCount: Int = 64) {
        entityShards = (0..<shardCount).map { _ in Shard() }
        userShards = (0..<shardCount).map { _ in Shard() }
    }

    // MARK: Registration

    /// Registers a connection of `user`, so that user notifications reach it.
    public func connect(_ mailbox: Mailbox, user: UserID) {
        Self.shard(for: user, in: userShards).registry.withLock { $0[user, default: [:]][mailbox.connectionID] = mailbox }
        connectionCount.add(1, ordering: .relaxed)
    }

    /// Removes a connection and every subscription it still holds.
    public func disconnect(_ mailbox: Mailbox, user: UserID, subscriptions: some Sequence<EntityID>) {
        for entity in subscriptions { unsubscribe(mailbox.connectionID, from: entity) }
        Self.remove(mailbox.connectionID, for: user, in: Self.shard(for: user, in: userShards))
        connectionCount.subtract(1, ordering: .relaxed)
    }

    /// Adds `mailbox` to the subscribers of `entity`.
    public func subscribe(_ mailbox: Mailbox, to entity: EntityID) {
        let inserted = Self.shard(for: entity, in: entityShards).registry.withLock {
            $0[entity, default: [:]].updateValue(mailbox, forKey: mailbox.connectionID) == nil
        }
        if inserted { subscriptionCount.add(1, ordering: .relaxed) }
    }

    /// Removes a connection from the subscribers of `entity`.
    public func unsubscribe(_ connection: ConnectionID, from entity: EntityID) {
        if Self.remove(connection, for: entity, in: Self.shard(for: entity, in: entityShards)) {
            subscriptionCount.subtract(1, ordering: .relaxed)
        }
    }

    // MARK: Delivery

    /// Posts one pre-encoded frame to every local subscriber of `entity`.
    @discardableResult
    public func deliver(_ frame: ByteBuffer, toSubscribersOf entity: EntityID) -> Delivery {
        Self.post(frame, to: Self.shard(for: entity, in: entityShards).registry.withLock { $0[entity] })
    }

    /// Posts one pre-encoded frame to every local connection of `user`.
    @discardableResult
    public func deliver(_ frame: ByteBuffer, toUser user: UserID) -> Delivery {
        Self.post(frame, to: Self.shard(for: user, in: userShards).registry.withLock { $0[user] })
    }

    // MARK: Figures

    /// Open connections registered with the hub.
    public var connections: Int { connectionCount.load(ordering: .relaxed) }
    /// Subscriptions across all connections.
    public var subscriptions: Int { subscriptionCount.load(ordering: .relaxed) }
    /// Entities with at least one subscriber.
    public var entities: Int { entityShards.reduce(0) { $0 + $1.registry.withLock { $0.count } } }

    // MARK: Helpers

    private static func post(_ frame: ByteBuffer, to mailboxes: [ConnectionID: Mailbox]?) -> Delivery {
        var delivery = Delivery()
        for mailbox in mailboxes?.values ?? [:].values {
            if mailbox.post(frame) { delivery.delivered += 1 } else { delivery.refused += 1 }
        }
        return delivery
    }

    private static func shard<Key>(for key: Key, in shards: [Shard<Key>]) -> Shard<Key> {
        shards[Int(UInt(bitPattern: key.hashValue) % UInt(shards.count))]
    }

    @discardableResult
    private static func remove<Key>(_ connection: ConnectionID, for key: Key, in shard: Shard<Key>) -> Bool {
        shard.registry.withLock { registry in
            guard registry[key]?.removeValue(forKey: connection) != nil else { return false }
            if registry[key]?.isEmpty == true { registry[key] = nil }
            return true
        }
    }
}

/// How many mailboxes took a frame, and how many refused it (closing or slow consumers).
public struct Delivery: Equatable, Sendable {
    public var delivered = 0
    public var refused = 0

    public init(delivered: Int = 0, refused: Int = 0) {
        self.delivered = delivered
        self.refused = refused
    }
}

extension Hub {
    /// Asks every connection to close with `reason` (used when draining).
    public func closeAll(_ reason: CloseReason) {
        for shard in userShards {
            let mailboxes = shard.registry.withLock { $0.values.flatMap(\.values) }
            for mailbox in mailboxes { mailbox.close(reason) }
        }
    }
}
