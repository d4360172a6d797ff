import Histogram
import NIOCore

/// What the connections of one event loop measured. Only ever touched on that loop, so the hot
/// path (one delivery) is a histogram record and an array increment, with no lock or atomic.
final class LoopState {
    /// Latencies and handshake times are recorded in microseconds, clamped to an hour.
    static let highestMicros: UInt64 = 3_600_000_000
    /// A publish index past this is garbage, not a delivery (it would make the ledger huge).
    static let maxPublishIndex = 50_000_000

    /// Publish → receive latency of every delivery, µs.
    var latency = LoopState.makeHistogram()
    /// TCP connect → ready, µs.
    var handshake = LoopState.makeHistogram()
    /// TCP connect → the `101` read, µs: where Nchan's handshake ends (it has no subscribe), the
    /// first of Herald's two round trips.
    var upgrade = LoopState.makeHistogram()
    /// Deliveries per publish index, for missing/duplicate accounting.
    var receivedByPublish: [UInt32] = []
    var deliveries = 0
    /// Text frames after the subscription that carried no benchmark payload.
    var otherFrames = 0
    /// Ready connections that the server closed (or that broke) before the end.
    var closedEarly = 0
    var closeCodes: [Int: Int] = [:]
    /// Connections that never became ready, by reason.
    var failures: [String: Int] = [:]
    /// Every connection handler of this loop, to close them at the end.
    var handlers: [SubscriberHandler] = []
    /// The storm's clients of this loop, by index (only in a run with a storm).
    var stormClients: [Int: StormClient] = [:]
    let stormCounters = StormCounters()
    /// Mask keys and `Sec-WebSocket-Key`s: a cheap generator, seeded once (a load generator needs
    /// unpredictable-enough keys, not a system call per byte).
    var random = SplitMix64()

    static func makeHistogram() -> Histogram<UInt64> {
        Histogram(lowestDiscernibleValue: 1, highestTrackableValue: highestMicros, numberOfSignificantValueDigits: .three)
    }

    @inline(__always)
    func recordDelivery(index: Int, latencyMicros: UInt64) {
        guard index < Self.maxPublishIndex else {
            otherFrames += 1
            return
        }
        deliveries += 1
        latency.record(min(latencyMicros, Self.highestMicros))
        if index >= receivedByPublish.count {
            let grown = Swift.max(index + 1, receivedByPublish.count * 2, 1024)
            receivedByPublish.append(contentsOf: repeatElement(0, count: grown - receivedByPublish.count))
        }
        receivedByPublish[index] &+= 1
    }

    func recordHandshake(micros: UInt64) {
        handshake.record(min(micros, Self.highestMicros))
    }

    func recordUpgrade(micros: UInt64) {
        upgrade.record(min(micros, Self.highestMicros))
    }

    func recordFailure(_ reason: String) {
        failures[reason, default: 0] += 1
    }

    func recordEarlyClose(code: Int) {
        closedEarly += 1
        closeCodes[code, default: 0] += 1
    }

    /// Client `index`'s storm record, made on its first connection.
    func stormClient(index: Int, entity: Int) -> StormClient {
        if let client = stormClients[index] { return client }
        let client = StormClient(index: index, entity: entity, counters: stormCounters)
        stormClients[index] = client
        return client
    }

    /// Closes every connection of this loop politely (close frame 1000, then the socket).
    func closeAll(on eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        let closing = handlers.compactMap { $0.closeForShutdown() }
        handlers.removeAll()
        return EventLoopFuture.andAllComplete(closing, on: eventLoop)
    }

    func summary() -> LoopSummary {
        LoopSummary(
            latency: latency,
            handshake: handshake,
            upgrade: upgrade,
            receivedByPublish: receivedByPublish,
            deliveries: deliveries,
            otherFrames: otherFrames,
            closedEarly: closedEarly,
            closeCodes: closeCodes,
            failures: failures
        )
    }
}

/// A copy of one loop's measurements, merged into the report.
struct LoopSummary: Sendable {
    var latency: Histogram<UInt64>
    var handshake: Histogram<UInt64>
    var upgrade: Histogram<UInt64>
    var receivedByPublish: [UInt32]
    var deliveries: Int
    var otherFrames: Int
    var closedEarly: Int
    var closeCodes: [Int: Int]
    var failures: [String: Int]
}

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny, fast pseudo-random generator.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64 = UInt64.random(in: .min ... .max)) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }
}
