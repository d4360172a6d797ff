import HeraldCore
import Histogram

/// The figures of one run. `json` renders them as one object with stable keys (below), `text` as a
/// short human-readable report.
///
/// JSON keys (times in ms unless named otherwise, null when not measured):
/// - `target`, `url`
/// - `config`: `connections`, `entities`, `rate` ("max", "0" or the number as a string), `durationSeconds`,
///   `messageBytes`, `sourceAddresses`, `connectConcurrency`, `threads`, `window`, `publishConnections`, `eventsPerPublish`,
///   `publishServers`, `serverPid`
/// - `connect`: `ready`, `failed`, `failureReasons` {reason: count}, `seconds`, `perSecond`,
///   `handshakeMs` (TCP connect → ready: Herald's subscribe acknowledged, Nchan's `101`) and
///   `upgradeMs` (TCP connect → the `101`) {`p50`,`p90`,`p99`,`max`}, `serverCpuSeconds`, `serverCpuUsPerConnection`
/// - `memory`: `serverRssBaselineBytes`, `serverRssAfterConnectBytes`, `serverRssEndBytes`, `serverRssPerConnectionBytes`
/// - `publish`: `seconds`, `scheduled`, `sent`, `failed` (non-2xx), `errors` (no answer), `skipped`, `timedOut`,
///   `statuses` {status: count}, `lagP99Ms`, `lagMaxMs`
/// - `deliveries`: `expected`, `received`, `missing`, `duplicates`, `perSecond`, `serverCpuSeconds`,
///   `serverCpuUsPerDelivery`, `closedEarly`, `closeCodes` {code: count}, `otherFrames`
/// - `latencyMs`: `count`, `p50`, `p90`, `p99`, `p999`, `max` (publish → receive)
/// - `generator`: `cores`, `connectCpuPercent`, `publishCpuPercent`, `connectSaturated`, `publishSaturated`,
///   `saturated` (either), `behindSchedule`
/// - `storm` (null without one): `clients`, `lost`, `lossCodes` {code: count}, `lossSeconds`, `warmUpPublishes`,
///   `gapPublishes` {`sent`,`failed`,`errors`}, `reconnectSeconds`, `resumeSeconds`, `resumed`, `recovered`,
///   `notRecovered`, `events` {`expected`,`received`,`missing`,`duplicates`,`skipped`}, `failureReasons`,
///   `handshakeMs` and `resumeMs` {`p50`,`p90`,`p99`,`max`}, `serverCpuSeconds`, `serverCpuUsPerClient`,
///   `generatorCpuPercent`, `complete`
/// - `bottleneck` (saturated or behind schedule), `warnings` [text]
public struct BenchReport: Sendable {
    /// Percentiles of a latency histogram, in milliseconds.
    public struct Percentiles: Sendable, Equatable {
        public var count: UInt64
        public var p50: Double
        public var p90: Double
        public var p99: Double
        public var p999: Double
        public var max: Double

        init(micros histogram: Histogram<UInt64>) {
            count = histogram.totalCount
            func milliseconds(_ percentile: Double) -> Double {
                histogram.totalCount == 0 ? 0 : Double(histogram.valueAtPercentile(percentile)) / 1000
            }
            p50 = milliseconds(50)
            p90 = milliseconds(90)
            p99 = milliseconds(99)
            p999 = milliseconds(99.9)
            max = histogram.totalCount == 0 ? 0 : Double(histogram.max) / 1000
        }
    }

    public var configuration: BenchConfiguration

    // Connect phase.
    public var connectionsReady = 0
    public var connectionsFailed = 0
    public var failureReasons: [String: Int] = [:]
    public var connectSeconds = 0.0
    public var connectsPerSecond = 0.0
    public var handshake: Percentiles
    public var upgrade: Percentiles
    public var serverCPUConnectSeconds: Double?
    public var serverCPUMicrosPerConnection: Double?

    // Memory.
    public var serverRSSBaselineBytes: Int?
    public var serverRSSAfterConnectBytes: Int?
    public var serverRSSEndBytes: Int?
    public var serverRSSPerConnectionBytes: Double?

    // Publish phase.
    public var publishSeconds = 0.0
    public var publishesScheduled = 0
    public var publishesSent = 0
    public var publishesFailed = 0
    public var publishErrors = 0
    public var publishesSkipped = 0
    public var publishesTimedOut = 0
    public var publishStatuses: [Int: Int] = [:]
    public var publishLagP99Ms = 0.0
    public var publishLagMaxMs = 0.0

    // Deliveries.
    public var deliveriesExpected = 0
    public var deliveriesReceived = 0
    public var deliveriesMissing = 0
    public var deliveriesDuplicate = 0
    public var deliveriesPerSecond = 0.0
    public var latency: Percentiles
    public var serverCPUPublishSeconds: Double?
    public var serverCPUMicrosPerDelivery: Double?
    public var closedEarly = 0
    public var closeCodes: [Int: Int] = [:]
    public var otherFrames = 0

    // The generator itself.
    public var generatorCores = 1
    public var generatorCPUConnectPercent = 0.0
    public var generatorCPUPublishPercent = 0.0
    /// The generator used ≥ 85% of its cores while connecting: connect rate and handshake times may measure it.
    public var generatorConnectSaturated = false
    /// The generator used ≥ 85% of its cores while publishing: deliveries/s and latency may measure it.
    public var generatorPublishSaturated = false
    public var behindSchedule = false
    public var warnings: [String] = []

    /// The reconnect storm, when there was one.
    public var storm: StormReport?

    public var generatorSaturated: Bool { generatorConnectSaturated || generatorPublishSaturated }

    /// The figures may measure the load generator rather than the server.
    public var bottleneck: Bool { generatorSaturated || behindSchedule }

    init(configuration: BenchConfiguration, handshake: Histogram<UInt64>, upgrade: Histogram<UInt64>, latency: Histogram<UInt64>) {
        self.configuration = configuration
        self.handshake = Percentiles(micros: handshake)
        self.upgrade = Percentiles(micros: upgrade)
        self.latency = Percentiles(micros: latency)
    }

    var url: String {
        let host = configuration.host.contains(":") ? "[\(configuration.host)]" : configuration.host
        return "http://\(host):\(configuration.port)\(configuration.path)"
    }

    /// One JSON object (see the type's documentation for the keys).
    public var json: String {
        let configuration = configuration
        let connectRate: JSONValue = .number(configuration.connectRate, decimals: 1)
        let reconnectServerPID: JSONValue = configuration.storm?.serverPID.map { JSONValue.int(Int($0)) } ?? .null
        let gapPublishes: JSONValue = configuration.storm.map { JSONValue.int($0.gapPublishes) } ?? .null
        let stormValue: JSONValue = storm.map(Self.json) ?? .null
        let object: JSONValue = .members([
            ("target", .string(configuration.target.rawValue)),
            ("url", .string(url)),
            (
                "config",
                .members([
                    ("connections", .int(configuration.connections)),
                    ("entities", .int(configuration.entities)),
                    ("rate", .string(configuration.rate.description)),
                    ("durationSeconds", .number(Double(configuration.duration.nanoseconds) / 1e9)),
                    ("messageBytes", .int(configuration.messageBytes)),
                    ("sourceAddresses", .int(configuration.sourceAddresses)),
                    ("connectConcurrency", .int(configuration.connectConcurrency)),
                    ("threads", .int(configuration.threads)),
                    ("window", .int(configuration.window)),
                    ("publishConnections", .int(configuration.publishConnections)),
                    ("eventsPerPublish", .int(configuration.eventsPerPublish)),
                    ("publishServers", .int(max(configuration.publishServers.count, 1))),
                    ("serverPid", .number(configuration.serverPID.map(Int.init))),
                    ("connectRate", connectRate),
                    ("reconnectServerPid", reconnectServerPID),
                    ("gapPublishes", gapPublishes),
                ])
            ),
            (
                "connect",
                .members([
                    ("ready", .int(connectionsReady)),
                    ("failed", .int(connectionsFailed)),
                    ("failureReasons", .counts(failureReasons)),
                    ("seconds", .number(connectSeconds)),
                    ("perSecond", .number(connectsPerSecond, decimals: 1)),
                    ("handshakeMs", Self.json(handshake)),
                    ("upgradeMs", Self.json(upgrade)),
                    ("serverCpuSeconds", .number(serverCPUConnectSeconds)),
                    ("serverCpuUsPerConnection", .number(serverCPUMicrosPerConnection)),
                ])
            ),
            (
                "memory",
                .members([
                    ("serverRssBaselineBytes", .number(serverRSSBaselineBytes)),
                    ("serverRssAfterConnectBytes", .number(serverRSSAfterConnectBytes)),
                    ("serverRssEndBytes", .number(serverRSSEndBytes)),
                    ("serverRssPerConnectionBytes", .number(serverRSSPerConnectionBytes, decimals: 0)),
                ])
            ),
            (
                "publish",
                .members([
                    ("seconds", .number(publishSeconds)),
                    ("scheduled", .int(publishesScheduled)),
                    ("sent", .int(publishesSent)),
                    ("failed", .int(publishesFailed)),
                    ("errors", .int(publishErrors)),
                    ("skipped", .int(publishesSkipped)),
                    ("timedOut", .int(publishesTimedOut)),
                    ("statuses", .counts(publishStatuses)),
                    ("lagP99Ms", .number(publishLagP99Ms)),
                    ("lagMaxMs", .number(publishLagMaxMs)),
                ])
            ),
            (
                "deliveries",
                .members([
                    ("expected", .int(deliveriesExpected)),
                    ("received", .int(deliveriesReceived)),
                    ("missing", .int(deliveriesMissing)),
                    ("duplicates", .int(deliveriesDuplicate)),
                    ("perSecond", .number(deliveriesPerSecond, decimals: 1)),
                    ("serverCpuSeconds", .number(serverCPUPublishSeconds)),
                    ("serverCpuUsPerDelivery", .number(serverCPUMicrosPerDelivery)),
                    ("closedEarly", .int(closedEarly)),
                    ("closeCodes", .counts(closeCodes)),
                    ("otherFrames", .int(otherFrames)),
                ])
            ),
            (
                "latencyMs",
                .members([
                    ("count", .int(Int(latency.count))),
                    ("p50", .number(latency.p50)), ("p90", .number(latency.p90)), ("p99", .number(latency.p99)),
                    ("p999", .number(latency.p999)), ("max", .number(latency.max)),
                ])
            ),
            (
                "generator",
                .members([
                    ("cores", .int(generatorCores)),
                    ("connectCpuPercent", .number(generatorCPUConnectPercent, decimals: 1)),
                    ("publishCpuPercent", .number(generatorCPUPublishPercent, decimals: 1)),
                    ("connectSaturated", .bool(generatorConnectSaturated)),
                    ("publishSaturated", .bool(generatorPublishSaturated)),
                    ("saturated", .bool(generatorSaturated)),
                    ("behindSchedule", .bool(behindSchedule)),
                ])
            ),
            ("storm", stormValue),
            ("bottleneck", .bool(bottleneck)),
            ("warnings", .array(warnings.map(JSONValue.string))),
        ])
        return String(decoding: JSON.encode(object), as: UTF8.self)
    }

    private static func json(_ value: Percentiles) -> JSONValue {
        .members([("p50", .number(value.p50)), ("p90", .number(value.p90)), ("p99", .number(value.p99)), ("max", .number(value.max))])
    }

    private static func json(_ storm: StormReport) -> JSONValue {
        func batch(_ outcome: BatchOutcome) -> JSONValue {
            .members([("sent", .int(outcome.sent)), ("failed", .int(outcome.failed)), ("errors", .int(outcome.errors))])
        }
        return .members([
            ("clients", .int(storm.clients)),
            ("lost", .int(storm.lost)),
            ("lossCodes", .counts(storm.lossCodes)),
            ("lossSeconds", .number(storm.lossSeconds)),
            ("warmUpPublishes", batch(storm.warmUp)),
            ("gapPublishes", batch(storm.gap)),
            ("reconnectSeconds", .number(storm.reconnectSeconds)),
            ("resumeSeconds", .number(storm.resumeSeconds)),
            ("resumed", .int(storm.resumed)),
            ("recovered", .int(storm.recovered)),
            ("notRecovered", .int(storm.notRecovered)),
            (
                "events",
                .members([
                    ("expected", .int(storm.eventsExpected)), ("received", .int(storm.eventsReceived)),
                    ("missing", .int(storm.eventsMissing)), ("duplicates", .int(storm.duplicates)), ("skipped", .int(storm.skipped)),
                ])
            ),
            ("failureReasons", .counts(storm.failureReasons)),
            ("handshakeMs", json(storm.handshake)),
            ("resumeMs", json(storm.resume)),
            ("serverCpuSeconds", .number(storm.serverCPUSeconds)),
            ("serverCpuUsPerClient", .number(storm.serverCPUMicrosPerClient)),
            ("generatorCpuPercent", .number(storm.generatorCPUPercent, decimals: 1)),
            ("complete", .bool(storm.complete)),
        ])
    }

    /// A short report for people.
    public var text: String {
        var lines: [String] = []
        let configuration = configuration
        let entities = configuration.entities == 1 ? "1 entity" : "\(configuration.entities) entities"
        lines.append(
            "herald bench → \(configuration.target.rawValue) at \(url): \(configuration.connections) connections over \(entities), "
                + "rate \(configuration.rate), \(Self.format(Double(configuration.duration.nanoseconds) / 1e9, 1)) s, \(configuration.messageBytes)-byte messages"
        )
        var connect = "connect     \(connectionsReady) ready, \(connectionsFailed) failed in \(Self.format(connectSeconds, 2)) s "
        connect += "(\(Self.format(connectsPerSecond, 0))/s); handshake p50 \(Self.ms(handshake.p50)), p90 \(Self.ms(handshake.p90)), "
        connect += "p99 \(Self.ms(handshake.p99)), max \(Self.ms(handshake.max)) ms; "
        connect += "to the 101 p50 \(Self.ms(upgrade.p50)), p99 \(Self.ms(upgrade.p99)) ms"
        lines.append(connect)
        if !failureReasons.isEmpty {
            lines.append(
                "            failures: " + failureReasons.sorted { $0.value > $1.value }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", ")
            )
        }
        if let perConnection = serverCPUMicrosPerConnection {
            lines.append("            server CPU \(Self.format(perConnection, 1)) µs per connection")
        }
        if let baseline = serverRSSBaselineBytes, let after = serverRSSAfterConnectBytes {
            var memory = "memory      server RSS \(Self.megabytes(baseline)) → \(Self.megabytes(after)) MB"
            if let perConnection = serverRSSPerConnectionBytes { memory += ": \(Self.format(perConnection / 1024, 2)) KB per connection" }
            if let end = serverRSSEndBytes { memory += " (end \(Self.megabytes(end)) MB)" }
            lines.append(memory)
        }
        if configuration.rate != .idle {
            var publish =
                "publish     \(publishesSent) sent, \(publishesFailed) failed, \(publishErrors) errors in \(Self.format(publishSeconds, 2)) s"
            if case .perSecond = configuration.rate {
                publish +=
                    " (\(publishesScheduled) due, \(publishesSkipped) skipped; lag p99 \(Self.ms(publishLagP99Ms)), max \(Self.ms(publishLagMaxMs)) ms)"
            } else {
                publish += " (window \(configuration.window), \(publishesTimedOut) timed out)"
            }
            lines.append(publish)
            lines.append(
                "deliveries  \(deliveriesExpected) expected, \(deliveriesReceived) received, \(deliveriesMissing) missing, "
                    + "\(deliveriesDuplicate) duplicates; \(Self.format(deliveriesPerSecond, 0))/s"
            )
            lines.append(
                "latency     p50 \(Self.ms(latency.p50)), p90 \(Self.ms(latency.p90)), p99 \(Self.ms(latency.p99)), "
                    + "p99.9 \(Self.ms(latency.p999)), max \(Self.ms(latency.max)) ms"
            )
            if let perDelivery = serverCPUMicrosPerDelivery {
                lines.append("server CPU  \(Self.format(perDelivery, 3)) µs per delivery")
            }
        }
        if closedEarly > 0 {
            lines.append(
                "closed      \(closedEarly) connections closed early: "
                    + closeCodes.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", ")
            )
        }
        if otherFrames > 0 { lines.append("other       \(otherFrames) frames without a benchmark payload") }
        if let storm {
            let codes = storm.lossCodes.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", ")
            lines.append("storm       \(storm.lost) of \(storm.clients) clients lost their node in \(Self.format(storm.lossSeconds, 2)) s (\(codes))")
            if storm.gap.sent > 0 {
                lines.append("            \(storm.gap.sent) publishes while they were away (\(storm.gap.failed) failed, \(storm.gap.errors) errors)")
            }
            lines.append(
                "            \(storm.resumed) resumed: last ack after \(Self.format(storm.reconnectSeconds, 2)) s, every missed event after "
                    + "\(Self.format(storm.resumeSeconds, 2)) s (p50 \(Self.ms(storm.resume.p50)), p99 \(Self.ms(storm.resume.p99)) ms)"
            )
            lines.append(
                "            recovered \(storm.recovered), not \(storm.notRecovered); events \(storm.eventsExpected) expected, "
                    + "\(storm.eventsReceived) received, \(storm.eventsMissing) missing, \(storm.duplicates) duplicates, \(storm.skipped) skipped"
            )
            if !storm.failureReasons.isEmpty {
                lines.append(
                    "            failures: "
                        + storm.failureReasons.sorted { $0.value > $1.value }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", ")
                )
            }
            if let cpu = storm.serverCPUSeconds {
                lines.append(
                    "            fresh node CPU \(Self.format(cpu, 2)) s (\(Self.format(storm.serverCPUMicrosPerClient ?? 0, 1)) µs per client)"
                )
            }
        }
        lines.append(
            "generator   CPU \(Self.format(generatorCPUPublishPercent, 0))% of \(generatorCores) core\(generatorCores == 1 ? "" : "s") while publishing, "
                + "\(Self.format(generatorCPUConnectPercent, 0))% while connecting"
        )
        for warning in warnings { lines.append("WARNING: " + warning) }
        return lines.joined(separator: "\n")
    }

    static func format(_ value: Double, _ decimals: Int) -> String {
        guard value.isFinite else { return "-" }
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let rounded = (value * scale).rounded() / scale
        if decimals == 0 { return String(Int(rounded)) }
        var text = String(rounded)
        if let dot = text.firstIndex(of: ".") {
            let have = text.distance(from: dot, to: text.endIndex) - 1
            if have < decimals { text += String(repeating: "0", count: decimals - have) }
        }
        return text
    }

    private static func ms(_ value: Double) -> String { format(value, value < 10 ? 2 : 1) }
    private static func megabytes(_ bytes: Int) -> String { format(Double(bytes) / 1_048_576, 1) }
}
