import HeraldClient
import HeraldCore
import HeraldServer
import Testing

/// `subscribe` with `since` against a live server (PROTOCOL.md §4): the missed events, in order, then live ones.
@Suite struct ResumeOverWebSocketTests {
    private func expectPushes(_ socket: HeraldSocket, _ seqs: ClosedRange<Int>) async throws {
        for seq in seqs {
            let push = try await socket.json()
            #expect(push["type"] == "Entity Updated" && push["seq"] == .int(seq) && push["message"] == .string("m\(seq)"))
        }
    }

    private func publish(_ server: TestServer, _ seqs: ClosedRange<Int>) async throws {
        for seq in seqs { _ = try await server.publishEntity("order-7", message: "m\(seq)") }
    }

    @Test func reconnectWithSinceGetsExactlyTheMissedEventsThenLiveOnes() async throws {
        let server = try await TestServer.start()
        let first = try await server.connect()
        first.send(#"{"action":"subscribe","entityId":"order-7"}"#)
        let epoch = try #require(try await first.json()["epoch"]?.stringValue)
        try await publish(server, 1...3)
        try await expectPushes(first, 1...3)
        first.close()
        _ = try await first.closeCode()
        try await waitUntil("the first connection is gone") { server.application.hub.connections == 0 }

        try await publish(server, 4...8)  // missed while away
        let second = try await server.connect()
        second.send(#"{"action":"subscribe","entityId":"order-7","since":3,"epoch":"\#(epoch)","requestId":"r"}"#)
        #expect(
            try await second.json()
                == .object([
                    "type": "subscribed", "entityId": "order-7", "recovered": .bool(true),
                    "epoch": .string(epoch), "requestId": "r",
                ])
        )
        try await expectPushes(second, 4...8)
        try await publish(server, 9...9)
        try await expectPushes(second, 9...9)
        try await second.expectNothingPending()
        try await server.stop()
    }

    @Test func tooFarBehindIsNotRecoveredButGetsTheKeptTail() async throws {
        let server = try await TestServer.start { $0.history.size = 3 }
        try await publish(server, 1...6)
        let socket = try await server.connect()
        socket.send(#"{"action":"subscribe","entityId":"order-7","since":2}"#)
        #expect(try await socket.json()["recovered"] == .bool(false))
        try await expectPushes(socket, 4...6)
        // latest − size recovers fully: since 3 → 4, 5, 6.
        let exact = try await server.connect()
        exact.send(#"{"action":"subscribe","entityId":"order-7","since":3}"#)
        #expect(try await exact.json()["recovered"] == .bool(true))
        try await expectPushes(exact, 4...6)
        try await publish(server, 7...7)
        try await expectPushes(socket, 7...7)
        try await expectPushes(exact, 7...7)
        try await server.stop()
    }

    @Test func aResetStreamOrAnotherEpochIsNotRecovered() async throws {
        let server = try await TestServer.start()
        try await publish(server, 1...2)
        let socket = try await server.connect()
        // Beyond the latest seq: the client's numbers come from before a restart.
        socket.send(#"{"action":"subscribe","entityId":"order-7","since":40}"#)
        #expect(try await socket.json()["recovered"] == .bool(false))
        try await socket.expectNothingPending()
        let other = try await server.connect()
        other.send(#"{"action":"subscribe","entityId":"order-7","since":1,"epoch":"an-earlier-run"}"#)
        #expect(try await other.json()["recovered"] == .bool(false))
        try await other.expectNothingPending()
        try await publish(server, 3...3)
        try await expectPushes(socket, 3...3)
        try await expectPushes(other, 3...3)
        try await server.stop()
    }

    @Test func withHistoryOffOnlyAnUpToDateClientIsRecovered() async throws {
        let server = try await TestServer.start { $0.history.size = 0 }
        // With history off, an entity nobody subscribes to is not kept at all: a subscriber holds it.
        let holder = try await server.subscriber(to: ["order-7"])
        try await publish(server, 1...2)
        try await expectPushes(holder, 1...2)
        let current = try await server.connect()
        current.send(#"{"action":"subscribe","entityId":"order-7","since":2}"#)
        #expect(try await current.json()["recovered"] == .bool(true))
        let behind = try await server.connect()
        behind.send(#"{"action":"subscribe","entityId":"order-7","since":1}"#)
        #expect(try await behind.json()["recovered"] == .bool(false))
        try await behind.expectNothingPending()
        try await server.stop()
    }
}
