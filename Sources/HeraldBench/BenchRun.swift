import NIOCore
import Synchronization

/// Where connections go: a server's address, its `Host:` header and its WebSocket path (Herald)
/// or path prefix (Nchan).
struct BenchEndpoint: Sendable {
    let address: SocketAddress
    let hostHeader: String
    let path: String

    init(address: SocketAddress, host: String, port: Int, path: String) {
        self.address = address
        self.hostHeader = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        self.path = path
    }
}

/// What every connection of one run shares: the settings, the server's address, and the few
/// counters that cross threads (rarely: on subscribe and on close, not per delivery).
final class BenchRun: Sendable {
    let configuration: BenchConfiguration
    /// The server under test.
    let primary: BenchEndpoint
    /// The storm's fresh node, when there is a storm.
    let reconnect: BenchEndpoint?
    /// Where publish connection i publishes: `publishEndpoints[i % count]` (the server under test
    /// unless `publishServers` names others).
    let publishEndpoints: [BenchEndpoint]
    /// Closed-loop pacing (`rate max`) only.
    let ledger: DeliveryLedger?
    /// Ready subscribers per entity, for the expected deliveries of each publish.
    private let subscribers: Mutex<[Int]>

    init(
        configuration: BenchConfiguration,
        server: SocketAddress,
        reconnect: SocketAddress?,
        publishServers: [SocketAddress] = [],
        ledger: DeliveryLedger?
    ) {
        self.configuration = configuration
        self.primary = BenchEndpoint(address: server, host: configuration.host, port: configuration.port, path: configuration.path)
        self.publishEndpoints =
            publishServers.isEmpty
            ? [primary]
            : zip(publishServers, configuration.publishServers).map {
                BenchEndpoint(address: $0, host: $1.host, port: $1.port, path: configuration.path)
            }
        if let reconnect, let storm = configuration.storm {
            self.reconnect = BenchEndpoint(address: reconnect, host: storm.host, port: storm.port, path: storm.path)
        } else {
            self.reconnect = nil
        }
        self.ledger = ledger
        self.subscribers = Mutex(Array(repeating: 0, count: configuration.entities))
    }

    func subscriberJoined(entity: Int) { subscribers.withLock { $0[entity] += 1 } }
    func subscriberLeft(entity: Int) { subscribers.withLock { $0[entity] -= 1 } }
    func subscriberCount(entity: Int) -> Int { subscribers.withLock { $0[entity] } }

    /// The request target of connection `index`'s WebSocket upgrade at `endpoint`.
    func upgradeTarget(index: Int, entity: Int, at endpoint: BenchEndpoint) -> String {
        switch configuration.target {
        case .herald:
            let token = configuration.tokens[index % configuration.tokens.count]
            return endpoint.path + (endpoint.path.contains("?") ? "&" : "?") + "access_token=" + token
        case .nchan:
            return Self.nchanPrefix(endpoint) + "/sub/" + BenchConfiguration.entityID(entity)
        }
    }

    /// The request target of a batch publish (`POST /events`).
    static let batchPublishTarget = "/events"

    /// The request target of a publish to `entity` at `endpoint`.
    func publishTarget(entity: Int, at endpoint: BenchEndpoint) -> String {
        switch configuration.target {
        case .herald: "/entities/" + BenchConfiguration.entityID(entity) + "/updates"
        case .nchan: Self.nchanPrefix(endpoint) + "/pub/" + BenchConfiguration.entityID(entity)
        }
    }

    private static func nchanPrefix(_ endpoint: BenchEndpoint) -> String {
        endpoint.path.hasSuffix("/") ? String(endpoint.path.dropLast()) : endpoint.path
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
