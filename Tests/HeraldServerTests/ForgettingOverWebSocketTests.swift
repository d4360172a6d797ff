import Configuration
import HeraldClient
import HeraldCore
import HeraldServer
import Testing

/// Memory bounded over time against a live server (PROTOCOL.md §4): forgotten entities start again under
/// a new epoch, and all kept events of the node together stay under `--history-max-bytes`.
@Suite struct ForgettingOverWebSocketTests {
    /// `GET /admin/stats`'s `name` as a number (nil when absent).
    private func stat(_ server: TestServer, _ name: String) async throws -> Int? {
        let (status, body) = try await server.get("/admin/stats")
        #expect(status == 200)
        guard case .int(let value)? = body?[name] else { return nil }
        return value
    }

    private func waitForStat(_ server: TestServer, _ name: String, toBe expected: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while try await stat(server, name) != expected {
            guard ContinuousClock.now < deadline else { throw TestFailure("\(name) did not become \(expected)") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    @Test func aForgottenEntityStartsAgainUnderANewEpochAndAnOldResumeIsNotRecovered() async throws {
        let server = try await TestServer.start { $0.history.ttl = .seconds(1) }
        let first = try await server.connect()
        first.send(#"{"action":"subscribe","entityId":"order-7"}"#)
        let oldEpoch = try #require(try await first.json()["epoch"]?.stringValue)
        for seq in 1...2 { #expect(try await server.publishEntity("order-7", message: "m\(seq)")["seq"] == .int(seq)) }
        for seq in 1...2 { #expect(try await first.json()["seq"] == .int(seq)) }
        first.close()
        _ = try await first.closeCode()

        // No subscriber; once the TTL has passed, the sweep forgets the entity.
        try await waitForStat(server, "streams", toBe: 0)
        for seq in 1...3 { #expect(try await server.publishEntity("order-7", message: "n\(seq)")["seq"] == .int(seq)) }

        let resumed = try await server.connect()
        resumed.send(#"{"action":"subscribe","entityId":"order-7","since":2,"epoch":"\#(oldEpoch)","requestId":"r"}"#)
        let ack = try await resumed.json()
        #expect(ack["type"] == "subscribed" && ack["recovered"] == .bool(false) && ack["requestId"] == "r")
        let newEpoch = try #require(ack["epoch"]?.stringValue)
        #expect(newEpoch != oldEpoch)
        try await resumed.expectNothingPending()  // nothing of the new stream replayed as if it followed 2

        // The new epoch resumes the new stream (`resumed` holds it; its events may have expired by
        // now, so resume from its latest).
        let current = try await server.connect()
        current.send(#"{"action":"subscribe","entityId":"order-7","since":3,"epoch":"\#(newEpoch)"}"#)
        #expect(try await current.json()["recovered"] == .bool(true))
        try await current.expectNothingPending()
        try await server.stop()
    }

    /// Ten entities, one event each, under a bound the last few fit in: those are kept, the older
    /// ones went first, and resuming from before an evicted one is not recovered.
    @Test func theNodesKeptEventsAreBoundedInBytesOldestFirst() async throws {
        let flags: [String: ConfigContent] = ["history-max-bytes": .string("5000")]
        let loaded = try HeraldConfiguration(reader: HeraldConfiguration.reader(flags: flags, environment: [:]), isDevelopment: false)
        let server = try await TestServer.start { $0.history = loaded.history }
        let entities = (1...10).map { "bounded-\($0)" }
        let holder = try await server.subscriber(to: entities)  // keeps the streams: only their events go
        let message = String(repeating: "x", count: 1_000)
        var frameBytes: [Int] = []
        for entity in entities {
            _ = try await server.publishEntity(entity, message: message)
            guard case .text(let push)? = await holder.next() else { throw TestFailure("no push for \(entity)") }
            // A text frame of 126…65535 payload bytes has a 4-byte header.
            frameBytes.append(push.utf8.count + 4)
        }
        var keptCount = 0
        var keptBytes = 0
        for bytes in frameBytes.reversed() where keptBytes + bytes <= 5_000 {
            keptBytes += bytes
            keptCount += 1
        }
        #expect(keptCount == 4)
        #expect(try await stat(server, "keptEvents") == keptCount)
        #expect(try await stat(server, "keptBytes") == keptBytes)
        let series = try await server.metrics()
        #expect(series["herald_history_bytes"] == Double(keptBytes) && series["herald_history_events"] == Double(keptCount))
        #expect(series["herald_streams"] == 10)
        for (index, entity) in entities.enumerated() {
            let socket = try await server.connect()
            socket.send(#"{"action":"subscribe","entityId":"\#(entity)","since":0}"#)
            let kept = index >= entities.count - keptCount
            #expect(try await socket.json()["recovered"] == .bool(kept), "\(entity)")
            if kept { #expect(try await socket.json()["entityId"] == .string(entity)) }
            try await socket.expectNothingPending()
            socket.close()
        }
        try await server.stop()
    }
}
