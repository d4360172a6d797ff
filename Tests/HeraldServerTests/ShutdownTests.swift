import Foundation
import HeraldClient
import HeraldCore
import HeraldServer
import Logging
import Testing

@Suite struct ShutdownTests {
    @Test func gracefulShutdownClosesClientsWithGoingAway() async throws {
        let server = try await TestServer.start()
        let sockets = [try await server.subscriber(to: ["a"]), try await server.connect(user: "other")]
        try await server.stop()
        for socket in sockets { #expect(try await socket.closeCode() == 1001) }
        #expect(server.application.hub.connections == 0)
    }

    /// SIGTERM: `/ready` turns false first, new upgrades are refused, clients get 1001, and a
    /// client that never answers holds the stop up for the drain timeout, not longer (its socket
    /// is then closed without waiting for the closing handshake's own 5 s timeout).
    @Test func drainingTurnsReadyFalseFirstAndEndsWithinTheDrainTimeout() async throws {
        let records = LogRecords()
        let server = try await TestServer.start(logger: Logger(label: "herald.test") { _ in RecordingLogHandler(records: records) }) {
            $0.drainTimeout = .seconds(2)
        }
        #expect(try await server.get("/ready", key: nil).0 == 200)
        let socket = try await server.subscriber(to: ["a"])
        let stalled = try await StalledClient.connect(port: server.port, token: try await server.token(user: "stalled"), subscribeTo: "a")
        try await waitUntil("the stalled client is connected") { server.application.hub.connections == 2 }
        let clock = ContinuousClock()
        let start = clock.now
        await server.beginShutdown()

        #expect(try await socket.closeCode() == 1001)
        // By the time a client hears 1001, /ready already says no, and new clients are turned away.
        let (status, body) = try await server.get("/ready", key: nil)
        #expect(status == 503)
        #expect(body == .object(["ready": .bool(false), "reason": "draining"]))
        let (refused, reason) = try await server.upgradeAttempt(query: "?access_token=\(try await server.token())")
        #expect(refused == 503)
        #expect(reason?["reason"] == "draining")

        try await server.stop()
        let took = start.duration(to: clock.now)
        #expect(took >= .seconds(1.5), "stopped after \(took), before the drain timeout")
        // The stalled client held the drain to its end, then its socket was closed unanswered.
        let drained = try #require(records.lines.first { $0.message == "Drained" })
        #expect(drained.metadata["herald.connections.closed.unanswered"] == "1")
        try? await stalled.close()
    }
}
