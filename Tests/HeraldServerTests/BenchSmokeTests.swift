import Foundation
import HeraldCore
import NIOCore
import Testing

@testable import HeraldBench

/// `herald bench`'s engine against a live in-process Herald (so it cannot rot), and its parsers.
@Suite struct BenchSmokeTests {
    /// 50 connections over 5 entities (10 subscribers each), measuring this very process.
    private static func configuration(for server: TestServer) async throws -> BenchConfiguration {
        var configuration = BenchConfiguration()
        try configuration.setURL(server.httpURL)
        configuration.tokens = [try await server.token(user: "bench-user-0"), try await server.token(user: "bench-user-1")]
        configuration.publishKey = TestServer.publishKey
        configuration.connections = 50
        configuration.entities = 5
        configuration.connectConcurrency = 20
        configuration.serverPID = ProcessInfo.processInfo.processIdentifier
        return configuration
    }

    @Test func fixedRateRunDeliversEveryPublishToEverySubscriber() async throws {
        let server = try await TestServer.start()
        var configuration = try await Self.configuration(for: server)
        configuration.rate = .perSecond(40)
        configuration.duration = .seconds(2)
        let report = try await Bench.run(configuration)
        try await server.stop()

        #expect(report.connectionsReady == 50)
        #expect(report.connectionsFailed == 0)
        #expect(report.failureReasons.isEmpty)
        #expect(report.handshake.count == 50)
        // The 101 comes before the subscribe's ack, for every connection.
        #expect(report.upgrade.count == 50 && report.upgrade.max <= report.handshake.max)
        #expect(report.publishesSent > 0)
        #expect(report.publishesFailed == 0)
        #expect(report.publishErrors == 0)
        #expect(report.publishStatuses == [202: report.publishesSent])
        // Every publish goes to one of 5 entities, each with 10 subscribers.
        #expect(report.deliveriesExpected == report.publishesSent * 10)
        #expect(report.deliveriesReceived == report.deliveriesExpected)
        #expect(report.deliveriesMissing == 0)
        #expect(report.deliveriesDuplicate == 0)
        #expect(report.latency.count == UInt64(report.deliveriesReceived))
        #expect(report.closedEarly == 0)
        #expect(report.otherFrames == 0)
        #expect(report.serverCPUMicrosPerDelivery != nil)
        #expect(report.serverRSSPerConnectionBytes != nil)

        let json = try #require(JSON.parse(report.json))
        #expect(json["target"] == "herald")
        #expect(json["connect"]?["ready"] == .int(50))
        let upgradeP99 = json["connect"]?["upgradeMs"]?["p99"]
        #expect(upgradeP99 != nil && upgradeP99 != .null)
        #expect(json["deliveries"]?["missing"] == .int(0))
        #expect(json["latencyMs"]?["count"] == .int(report.deliveriesReceived))
        #expect(json["bottleneck"] == .bool(report.bottleneck))
    }

    /// Batches of 5 events a request (`POST /events`), through two cluster nodes: the
    /// subscribers on one, the publishes through both in turn.
    @Test func batchedPublishesThroughSeveralNodesArriveOnce() async throws {
        let database = try await TestPostgres.freshDatabase()
        let (a, b) = (try await ClusterNodes.node(database), try await ClusterNodes.node(database))
        var configuration = try await Self.configuration(for: a)
        configuration.rate = .perSecond(200)
        configuration.duration = .seconds(1)
        configuration.eventsPerPublish = 5
        try configuration.addPublishURL(a.httpURL)
        try configuration.addPublishURL(b.httpURL)
        let report = try await Bench.run(configuration)
        try await a.stop()
        try await b.stop()

        #expect(report.publishesSent > 0 && report.publishesSent % 5 == 0)
        #expect(report.publishesFailed == 0 && report.publishErrors == 0)
        #expect(report.publishStatuses == [200: report.publishesSent / 5], "one POST /events per 5 events")
        #expect(report.deliveriesExpected == report.publishesSent * 10)
        #expect(report.deliveriesReceived == report.deliveriesExpected)
        #expect(report.deliveriesMissing == 0 && report.deliveriesDuplicate == 0)
    }

    @Test func closedLoopRunPublishesAsDeliveriesComplete() async throws {
        let server = try await TestServer.start()
        var configuration = try await Self.configuration(for: server)
        configuration.entities = 2
        configuration.rate = .max
        configuration.duration = .seconds(1)
        let report = try await Bench.run(configuration)
        try await server.stop()

        #expect(report.connectionsReady == 50)
        #expect(report.publishesSent > 2)
        #expect(report.publishesFailed == 0)
        #expect(report.publishErrors == 0)
        #expect(report.publishesTimedOut == 0)
        // 25 subscribers on each of the two entities.
        #expect(report.deliveriesExpected == report.publishesSent * 25)
        #expect(report.deliveriesReceived == report.deliveriesExpected)
        #expect(report.deliveriesMissing == 0)
        #expect(report.latency.count == UInt64(report.deliveriesReceived))
    }

    @Test func idleRunHoldsConnectionsWithoutPublishing() async throws {
        let server = try await TestServer.start()
        var configuration = try await Self.configuration(for: server)
        configuration.connections = 20
        configuration.connectRate = 1000  // paced (S4-paced), still every connection
        configuration.rate = .idle
        configuration.duration = .milliseconds(200)
        let report = try await Bench.run(configuration)
        try await server.stop()

        #expect(report.connectionsReady == 20)
        #expect(report.publishesSent == 0)
        #expect(report.deliveriesReceived == 0)
        #expect(report.serverRSSAfterConnectBytes != nil)
        #expect(report.serverRSSEndBytes != nil)
    }

    @Test func refusedTokensAreReportedAsFailedHandshakes() async throws {
        let server = try await TestServer.start()
        var configuration = try await Self.configuration(for: server)
        configuration.connections = 5
        configuration.tokens = ["not-a-token"]
        configuration.rate = .idle
        configuration.duration = .milliseconds(100)
        let report = try await Bench.run(configuration)
        try await server.stop()

        #expect(report.connectionsReady == 0)
        #expect(report.failureReasons == ["http 401": 5])
    }

    /// The reconnect storm in small: 12 clients of a cluster node (3 entities) lose it (graceful
    /// shutdown, as SIGTERM) and resume on a fresh node of the same database, each with exactly
    /// the 2 events per entity published while they were away.
    @Test func stormResumesEveryClientWithEveryMissedEventOnce() async throws {
        let database = try await TestPostgres.freshDatabase()
        let lost = try await ClusterNodes.node(database)
        let fresh = try await ClusterNodes.node(database)
        var configuration = try await Self.configuration(for: lost)
        configuration.connections = 12
        configuration.entities = 3
        configuration.rate = .idle
        configuration.duration = .milliseconds(50)
        var storm = BenchConfiguration.Storm { try? await lost.stop() }
        try storm.setURL(fresh.httpURL)
        storm.serverPID = ProcessInfo.processInfo.processIdentifier
        storm.gapPublishes = 2
        configuration.storm = storm
        let report = try await Bench.run(configuration)
        try await fresh.stop()

        #expect(report.connectionsReady == 12)
        let result = try #require(report.storm)
        #expect(result.clients == 12)
        #expect(result.lost == 12)
        #expect(result.lossCodes == [1001: 12])
        #expect(result.warmUp.sent == 3 && result.warmUp.failed == 0 && result.warmUp.errors == 0)
        #expect(result.gap.sent == 6 && result.gap.failed == 0 && result.gap.errors == 0)
        #expect(result.gap.statuses == [202: 6])
        #expect(result.resumed == 12)
        #expect(result.recovered == 12 && result.notRecovered == 0)
        // Each client missed its entity's 2 gap events (seq 2 and 3 after the warm-up's 1).
        #expect(result.eventsExpected == 24)
        #expect(result.eventsReceived == 24)
        #expect(result.eventsMissing == 0 && result.duplicates == 0 && result.skipped == 0)
        #expect(result.failureReasons.isEmpty)
        #expect(result.handshake.count == 12 && result.resume.count == 12)
        #expect(result.resumeSeconds >= result.reconnectSeconds)
        #expect(result.serverCPUSeconds != nil)
        #expect(result.complete)
        #expect(report.closedEarly == 0)
        #expect(report.otherFrames == 0)

        let json = try #require(JSON.parse(report.json))
        #expect(json["storm"]?["complete"] == .bool(true))
        #expect(json["storm"]?["events"]?["received"] == .int(24))
    }

    /// Nchan's storm has nothing to resume: --gap-publishes must stay 0, and a rate must be positive.
    @Test func stormAndPacingSettingsAreBounded() throws {
        var configuration = BenchConfiguration()
        configuration.tokens = ["t"]
        configuration.publishKey = "k"
        configuration.connectRate = 0
        #expect(throws: BenchError.self) { try configuration.validate() }
        configuration.connectRate = 1000
        try configuration.validate()
        var storm = BenchConfiguration.Storm {}
        storm.gapPublishes = 101
        configuration.storm = storm
        #expect(throws: BenchError.self) { try configuration.validate() }
        configuration.storm?.gapPublishes = 1
        try configuration.validate()
        configuration.target = .nchan
        #expect(throws: BenchError.self) { try configuration.validate() }
        configuration.storm?.gapPublishes = 0
        try configuration.validate()
    }

    // MARK: - Parsers

    @Test func timestampAndIndexAreFoundInsideAHeraldPush() {
        let message = BenchMessage.make(sentAt: 123_456_789_012, index: 42, size: 64)
        #expect(message.utf8.count == 64)
        #expect(message.hasPrefix("ts=123456789012;n=42;x"))
        let push = #"{"type":"Entity Updated","entityId":"bench-3","message":"\#(message)","seq":7,"id":"e1","time":"2026-11-24T10:00:00Z"}"#
        let parsed = BenchMessage.parse(Array(push.utf8))
        #expect(parsed?.sentAt == 123_456_789_012)
        #expect(parsed?.index == 42)
        // Nchan delivers the raw body.
        #expect(BenchMessage.parse(Array(message.utf8))?.index == 42)
        // A long index still fits: the message grows rather than losing a field.
        #expect(BenchMessage.make(sentAt: UInt64.max / 2, index: 99_999_999, size: 32).utf8.count > 32)
    }

    @Test func framesWithoutABenchPayloadParseToNil() {
        for text in [
            #"{"type":"subscribed","entityId":"bench-1","recovered":true}"#, "ts=", "ts=12;n=", "ts=12;n=3", "ts=;n=3;",
            "ts=12x;n=3;", "ts=12;m=3;", "ts=12345678901234567890;n=1;",
        ] {
            #expect(BenchMessage.parse(Array(text.utf8)) == nil, "\(text)")
        }
        // The first well-formed occurrence wins, after a false start.
        #expect(BenchMessage.parse(Array("its=x ts=5;n=6;".utf8))?.sentAt == 5)
    }

    @Test func serverFramesAreReadWholeOrNotAtAll() throws {
        var buffer = ByteBuffer()
        let long = String(repeating: "a", count: 300)
        buffer.writeBytes([0x81, 5] + Array("hello".utf8))  // text, 7-bit length
        buffer.writeBytes([0x81, 126, 0x01, 0x2C] + Array(long.utf8))  // text, 16-bit length (300)
        buffer.writeBytes([0x89, 2, 0x68, 0x69])  // ping "hi"
        buffer.writeBytes([0x88, 2, 0x03, 0xF5])  // close 1013

        var first = try #require(try WebSocketFrameParser.next(from: &buffer))
        #expect(first.opcode == .text && first.fin)
        #expect(first.payload.readString(length: 5) == "hello")
        let second = try #require(try WebSocketFrameParser.next(from: &buffer))
        #expect(second.payload.readableBytes == 300)
        #expect(try WebSocketFrameParser.next(from: &buffer)?.opcode == .ping)
        let close = try #require(try WebSocketFrameParser.next(from: &buffer))
        #expect(close.opcode == .close && WebSocketFrameParser.closeCode(close.payload) == 1013)
        #expect(try WebSocketFrameParser.next(from: &buffer) == nil)

        // A partial frame leaves the buffer untouched until the rest arrives.
        var partial = ByteBuffer(bytes: [0x81, 126, 0x01])
        #expect(try WebSocketFrameParser.next(from: &partial) == nil)
        #expect(partial.readableBytes == 3)
        partial.writeBytes([0x2C] + Array(long.utf8.dropLast()))
        #expect(try WebSocketFrameParser.next(from: &partial) == nil)
        partial.writeBytes([UInt8(ascii: "a")])
        #expect(try WebSocketFrameParser.next(from: &partial)?.payload.readableBytes == 300)
    }

    @Test func clientFramesAreMaskedAndReadBack() throws {
        var buffer = ByteBuffer()
        let text = #"{"action":"subscribe","entityId":"bench-7"}"#
        WebSocketFrameParser.writeClientFrame(opcode: .text, payload: text.utf8, maskKey: 0xA1B2_C3D4, into: &buffer)
        #expect(buffer.getInteger(at: 1, as: UInt8.self)! & 0x80 != 0)  // mask bit
        #expect(buffer.getString(at: 6, length: text.utf8.count) != text)  // the payload is masked on the wire
        var frame = try #require(try WebSocketFrameParser.next(from: &buffer))
        #expect(frame.opcode == .text)
        #expect(frame.payload.readString(length: frame.payload.readableBytes) == text)
    }

    @Test func webSocketKeysAreBase64OfSixteenBytes() {
        #expect(SubscriberHandler.base64(0, 0) == "AAAAAAAAAAAAAAAAAAAAAA==")
        var generator = SplitMix64(seed: 7)
        for _ in 0..<20 {
            let (high, low) = (generator.next(), generator.next())
            var bytes: [UInt8] = []
            for word in [high, low] {
                for shift: UInt64 in [56, 48, 40, 32, 24, 16, 8, 0] { bytes.append(UInt8(truncatingIfNeeded: word >> shift)) }
            }
            #expect(SubscriberHandler.base64(high, low) == Data(bytes).base64EncodedString())
        }
    }

    @Test func malformedServerFramesAreProtocolErrors() {
        var reserved = ByteBuffer(bytes: [0xC1, 0])  // RSV1 without an extension
        #expect(throws: BenchError.self) { try WebSocketFrameParser.next(from: &reserved) }
        var opcode = ByteBuffer(bytes: [0x83, 0])  // opcode 3 is reserved
        #expect(throws: BenchError.self) { try WebSocketFrameParser.next(from: &opcode) }
        var control = ByteBuffer(bytes: [0x09, 0])  // fragmented ping
        #expect(throws: BenchError.self) { try WebSocketFrameParser.next(from: &control) }
    }

    @Test func settingsAreParsedAndBounded() throws {
        #expect(BenchConfiguration.Rate("max") == .max)
        #expect(BenchConfiguration.Rate("0") == .idle)
        #expect(BenchConfiguration.Rate("2000") == .perSecond(2000))
        #expect(BenchConfiguration.Rate("abc") == nil)
        #expect(BenchConfiguration.Rate("-1") == nil)

        var configuration = BenchConfiguration()
        try configuration.setURL("ws://127.0.0.1:9000/ws")
        #expect(configuration.host == "127.0.0.1" && configuration.port == 9000 && configuration.path == "/ws")
        try configuration.setURL("http://localhost:8080")
        #expect(configuration.host == "localhost" && configuration.path == "/")
        #expect(throws: BenchError.self) { try configuration.setURL("https://127.0.0.1:443") }
        #expect(throws: BenchError.self) { try configuration.setURL("http://127.0.0.1:port") }

        configuration.tokens = ["t"]
        configuration.publishKey = "k"
        try configuration.validate()
        configuration.connections = 0
        #expect(throws: BenchError.self) { try configuration.validate() }
        configuration.connections = 10
        configuration.duration = .seconds(601)
        #expect(throws: BenchError.self) { try configuration.validate() }
    }

    @Test func procStatFieldsAreCountedFromTheLastParenthesis() {
        let stat = "4242 (herald (worker) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 150 0 0 20 0 5 0 100 1000 200"
        #expect(ProcessSample.cpuSeconds(stat: stat).map { ($0 * 100).rounded() } == 400)  // (250 + 150) ticks at 100 Hz
        #expect(ProcessSample.rssBytes(status: "Name:\therald\nVmRSS:\t   51234 kB\nThreads:\t5\n") == 51234 * 1024)
        #expect(ProcessSample.read(pid: ProcessInfo.processInfo.processIdentifier)?.rssBytes ?? 0 > 0)
    }
}
