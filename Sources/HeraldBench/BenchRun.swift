import NIOCore
import Synchronization

/// What every connection of one run shares: the settings, the server's address, and the few
/// counters that cross threads (rarely: on subscribe and on close, not per delivery).
final class BenchRun: Sendable {
    let configuration: BenchConfiguration
    let server: SocketAddress
    /// `Host:` header value.
    let hostHeader: String
    /// Where publish connection i publishes: `publishServers[i % count]`, with its `Host:` header.
    let publishServers: [(address: SocketAddress, hostHeader: String)]
    /// Closed-loop pacing (`rate max`) only.
    let ledger: DeliveryLedger?
    /// Ready subscribers per entity, for the expected deliveries of each publish.
    private let subscribers: Mutex<[Int]>

    init(configuration: BenchConfiguration, server: SocketAddress, publishServers: [SocketAddress], ledger: DeliveryLedger?) {
        func hostHeader(_ host: String, _ port: Int) -> String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
        self.configuration = configuration
        self.server = server
        self.hostHeader = hostHeader(configuration.host, configuration.port)
        self.publishServers =
            publishServers.isEmpty
            ? [(server, self.hostHeader)]
            : zip(publishServers, configuration.publishServers).map { ($0, hostHeader($1.host, $1.port)) }
        self.ledger = ledger
        self.subscribers = Mutex(Array(repeating: 0, count: configuration.entities))
    }

    func subscriberJoined(entity: Int) { subscribers.withLock { $0[entity] += 1 } }
    func subscriberLeft(entity: Int) { subscribers.withLock { $0[entity] -= 1 } }
    func subscriberCount(entity: Int) -> Int { subscribers.withLock { $0[entity] } }

    /// The request target of connection `index`'s WebSocket upgrade.
    func upgradeTarget(index: Int, entity: Int) -> String {
        switch configuration.target {
        case .herald:
            let path = configuration.path
            let token = configuration.tokens[index % configuration.tokens.count]
            return path + (path.contains("?") ? "&" : "?") + "access_token=" + token
        case .nchan:
            return nchanPrefix + "/sub/" + BenchConfiguration.entityID(entity)
        }
    }

    /// The request target of a batch publish (`POST /events`).
    static let batchPublishTarget = "/events"

    /// The request target of a publish to `entity`.
    func publishTarget(entity: Int) -> String {
        switch configuration.target {
        case .herald: "/entities/" + BenchConfiguration.entityID(entity) + "/updates"
        case .nchan: nchanPrefix + "/pub/" + BenchConfiguration.entityID(entity)
        }
    }

    private var nchanPrefix: String {
        configuration.path.hasSuffix("/") ? String(configuration.path.dropLast()) : configuration.path
    }
}

/// Closed-loop pacing: which publishes have all their deliveries. A fixed ring of slots, each
/// holding one in-flight publish's index, expected count and received count, updated with atomics
/// from any event loop; the delivery that completes a publish wakes the publisher.
final class DeliveryLedger: Sendable {
    static let slotCount = 4096

    private final class Slot: Sendable {
        let index = Atomic<Int>(-1)
        let target = Atomic<Int>(0)
        let received = Atomic<Int>(0)
    }

    private let slots: [Slot]
    private let wake: @Sendable (Int) -> Void

    /// - Parameter wake: called (from the delivering loop) with the index of a publish whose last
    ///   expected delivery just arrived.
    init(wake: @escaping @Sendable (Int) -> Void) {
        self.slots = (0..<Self.slotCount).map { _ in Slot() }
        self.wake = wake
    }

    /// Starts tracking publish `index`, expecting `target` deliveries. Call before sending it.
    func arm(index: Int, target: Int) {
        let slot = slots[index % Self.slotCount]
        slot.index.store(-1, ordering: .releasing)
        slot.received.store(0, ordering: .relaxed)
        slot.target.store(target, ordering: .relaxed)
        slot.index.store(index, ordering: .releasing)
    }

    /// Counts one delivery of publish `index`.
    @inline(__always)
    func delivered(index: Int) {
        let slot = slots[index % Self.slotCount]
        guard slot.index.load(ordering: .acquiring) == index else { return }
        let received = slot.received.wrappingAdd(1, ordering: .acquiringAndReleasing).newValue
        if received == slot.target.load(ordering: .relaxed) { wake(index) }
    }

    /// Whether every expected delivery of publish `index` arrived.
    func isComplete(index: Int) -> Bool {
        let slot = slots[index % Self.slotCount]
        return slot.index.load(ordering: .acquiring) == index
            && slot.received.load(ordering: .acquiring) >= slot.target.load(ordering: .relaxed)
    }
}
