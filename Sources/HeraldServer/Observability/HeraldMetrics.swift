import CoreMetrics
import HeraldCore
import HeraldTokens
import Prometheus
import Synchronization

/// The figures of OPERATIONS.md §2 `GET /metrics`, kept through swift-metrics in this node's own
/// Prometheus registry (several nodes in one process, as in the tests, never share counts).
///
/// Every label value comes from a fixed set made here at start (event types, reason
/// codes, close codes): never a user id, entity id or token. A close code outside PROTOCOL.md §5
/// table is counted as `other`.
final class HeraldMetrics: DeliveryObserver {
    let registry = PrometheusCollectorRegistry()

    /// Gauges, read from the hub and the broker when scraped.
    private let connections: CoreMetrics.Gauge
    private let subscriptions: CoreMetrics.Gauge
    private let entities: CoreMetrics.Gauge
    private let streams: CoreMetrics.Gauge
    private let historyEvents: CoreMetrics.Gauge
    private let historyBytes: CoreMetrics.Gauge
    private let entityUpdates: CoreMetrics.Counter
    private let userNotifications: CoreMetrics.Counter
    private let deliveries: CoreMetrics.Counter
    private let droppedPushes: CoreMetrics.Counter
    private let slowConsumerDisconnects: CoreMetrics.Counter
    /// The same count, for `/admin/stats` (a Prometheus counter cannot be read back).
    private let slowConsumerCount = Atomic<Int>(0)
    private let authFailures: [String: CoreMetrics.Counter]
    private let closes: [String: CoreMetrics.Counter]
    private let publishDuration: CoreMetrics.Timer
    private let fanOutDuration: CoreMetrics.Timer
    private let shedConnections: [ConnectionDeadline.ShedReason: CoreMetrics.Counter]
    private let acceptBackoffs: CoreMetrics.Counter
    private let rejectedNotices: [RejectedNotice: CoreMetrics.Counter]

    /// The reason codes of a refused credential: the token reasons of PROTOCOL.md §1, and `unauthorized`
    /// for a missing or wrong publish key.
    static let authFailureReasons = TokenRejection.Reason.allCases.map(\.rawValue) + ["unauthorized"]
    /// The close codes of PROTOCOL.md §5, the codes a client may close with, and 1006 (no close frame).
    static let closeCodes: [UInt16] = [1000, 1001, 1002, 1003, 1005, 1006, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 4001, 4002, 4003]

    init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        // Publishes and fan-outs take microseconds to milliseconds: finer buckets than the default 5 ms to 10 s.
        let fine: [Duration] = [
            .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .microseconds(2_500),
            .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
            .milliseconds(500), .seconds(1),
        ]
        factory.durationHistogramBuckets = ["herald_publish_duration_seconds": fine, "herald_fanout_duration_seconds": fine]
        connections = CoreMetrics.Gauge(label: "herald_connections", factory: factory)
        subscriptions = CoreMetrics.Gauge(label: "herald_subscriptions", factory: factory)
        entities = CoreMetrics.Gauge(label: "herald_entities", factory: factory)
        streams = CoreMetrics.Gauge(label: "herald_streams", factory: factory)
        historyEvents = CoreMetrics.Gauge(label: "herald_history_events", factory: factory)
        historyBytes = CoreMetrics.Gauge(label: "herald_history_bytes", factory: factory)
        entityUpdates = CoreMetrics.Counter(label: "herald_events_published_total", dimensions: [("type", "entity_updated")], factory: factory)
        userNotifications = CoreMetrics.Counter(label: "herald_events_published_total", dimensions: [("type", "user_notification")], factory: factory)
        deliveries = CoreMetrics.Counter(label: "herald_deliveries_total", factory: factory)
        droppedPushes = CoreMetrics.Counter(label: "herald_dropped_pushes_total", factory: factory)
        slowConsumerDisconnects = CoreMetrics.Counter(label: "herald_slow_consumer_disconnects_total", factory: factory)
        authFailures = Dictionary(
            uniqueKeysWithValues: Self.authFailureReasons.map {
                ($0, CoreMetrics.Counter(label: "herald_auth_failures_total", dimensions: [("reason", $0)], factory: factory))
            }
        )
        closes = Dictionary(
            uniqueKeysWithValues: (Self.closeCodes.map { "\($0)" } + ["other"]).map {
                ($0, CoreMetrics.Counter(label: "herald_closes_total", dimensions: [("code", $0)], factory: factory))
            }
        )
        publishDuration = CoreMetrics.Timer(label: "herald_publish_duration_seconds", factory: factory)
        fanOutDuration = CoreMetrics.Timer(label: "herald_fanout_duration_seconds", factory: factory)
        shedConnections = Dictionary(
            uniqueKeysWithValues: ConnectionDeadline.ShedReason.allCases.map {
                ($0, CoreMetrics.Counter(label: "herald_shed_connections_total", dimensions: [("reason", $0.rawValue)], factory: factory))
            }
        )
        acceptBackoffs = CoreMetrics.Counter(label: "herald_accept_backoffs_total", factory: factory)
        rejectedNotices = Dictionary(
            uniqueKeysWithValues: RejectedNotice.allCases.map {
                ($0, CoreMetrics.Counter(label: "herald_cluster_notices_rejected_total", dimensions: [("reason", $0.rawValue)], factory: factory))
            }
        )
    }

    // MARK: Recording

    /// One accepted event, counted by type.
    func published(_ event: Event) {
        switch event {
        case .entityUpdated: entityUpdates.increment()
        case .userNotification: userNotifications.increment()
        }
    }

    /// One event handed to this node's subscribers (every broker's deliveries pass the hub).
    func delivered(to count: Int, fanOut: Duration) {
        if count > 0 { deliveries.increment(by: count) }
        fanOutDuration.recordNanoseconds(fanOut.inNanoseconds)
    }

    /// A publish request answered (every shape): from the route's start (after the key check) to its response.
    func publishRequestFinished(after duration: Duration) {
        publishDuration.recordNanoseconds(duration.inNanoseconds)
    }

    /// A push not written because its connection was already closing.
    func pushDropped() { droppedPushes.increment() }

    /// A connection closed with `1013` because it did not read its pushes fast enough.
    func slowConsumerDisconnected() {
        slowConsumerDisconnects.increment()
        slowConsumerCount.add(1, ordering: .relaxed)
    }

    /// Connections closed as slow consumers since start (`/admin/stats` shows it).
    var slowConsumerDisconnectCount: Int { slowConsumerCount.load(ordering: .relaxed) }

    /// A refused token or publish key; `reason` is one of `authFailureReasons`.
    func authFailed(_ reason: String) { authFailures[reason]?.increment() }

    /// A WebSocket connection ended with `code` (the one sent or received, 1006 when there was none).
    func closed(code: UInt16) { (closes["\(code)"] ?? closes["other"])?.increment() }

    /// A connection closed before it was served: over `--max-pending-connections`, or past a deadline.
    func shed(_ reason: ConnectionDeadline.ShedReason) { shedConnections[reason]?.increment() }

    /// Accepting paused once (100 ms) because accept failed for want of descriptors or memory.
    func acceptPaused() { acceptBackoffs.increment() }

    /// A notice heard on the cluster's channel that no node sealed, or a copy of one: dropped.
    func rejectedNotice(_ reason: RejectedNotice) { rejectedNotices[reason]?.increment() }

    // MARK: Exposition

    /// The Prometheus text exposition, with the gauges read from `hub` and what the node `kept` now.
    func exposition(hub: Hub, kept: EntityStreams.Figures) -> [UInt8] {
        connections.record(hub.connections)
        subscriptions.record(hub.subscriptions)
        entities.record(hub.entities)
        streams.record(kept.streams)
        historyEvents.record(kept.keptEvents)
        historyBytes.record(kept.keptBytes)
        return registry.emitToBuffer()
    }
}
