import Foundation
import HeraldClient
import HeraldCore
import HeraldServer
import NIOCore
import Testing

@testable import HeraldBench

@Suite struct SlowConsumerTests {
    /// A client that subscribes and then never reads is closed once more than the outbound buffer
    /// waits for it; a reading subscriber of the same entity gets every push, in order.
    @Test func aClientThatNeverReadsIsClosedAndOthersAreUnaffected() async throws {
        let server = try await TestServer.start {
            $0.limits.outboundBufferBytes = 256 * 1024
            $0.limits.closeTimeout = .milliseconds(300)
        }
        let reader = try await server.subscriber(user: "reader", to: ["busy"])
        let stalled = try await StalledClient.connect(port: server.port, token: try await server.token(user: "stalled"), subscribeTo: "busy")
        try await waitUntil("both subscribed") { server.application.hub.subscriptions == 2 }

        // Rounds of 1.6 MB until the stalled client is closed: it takes more than a stalled loopback
        // socket's kernel buffers (which grow to ~4 MB, more where the kernel allows) plus 256 KiB,
        // in pushes small enough that a reading client never has 256 KiB waiting; at most 40 MB.
        // Eight publishers at a time keep the test short.
        let message = String(repeating: "x", count: 20_000)
        var publishes = 0
        while server.application.hub.connections == 2, publishes < 2_000 {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        for _ in 0..<10 { _ = try await server.publishEntity("busy", message: message) }
                    }
                }
                try await group.waitForAll()
            }
            publishes += 80
        }

        try await waitUntil("the stalled client closed") { server.application.hub.connections == 1 }
        #expect(server.application.hub.subscriptions == 1)
        let (status, stats) = try await server.get("/admin/stats")
        #expect(status == 200)
        #expect(stats?["streams"] == .int(1) && stats?["keptEvents"] == .int(100))
        var figures = stats?.objectValue ?? [:]
        for kept in ["streams", "keptEvents", "keptBytes"] { figures[kept] = nil }
        #expect(
            figures == [
                "connections": .int(1), "subscriptions": .int(1), "entities": .int(1), "slowConsumerDisconnects": .int(1),
                "refusals": .object([:]),
            ]
        )
        #expect(try await server.get("/admin/stats", key: "wrong").0 == 401)
        let metrics = try await server.metrics()
        #expect(metrics["herald_slow_consumer_disconnects_total"] == 1)
        #expect(metrics[#"herald_closes_total{code="1013"}"#] == 1)
        for seq in 1...publishes {
            let push = try await reader.json()
            #expect(push["seq"] == .int(seq))
        }
        try await reader.expectNothingPending()
        try await stalled.close()
        try await server.stop()
    }

    /// 64 distinct 1 MiB pushes for a client that never reads: the server keeps no more than its
    /// buffers (the outbound bound plus the kernel's), closes it, and releases what was queued.
    /// Were they kept, this process would grow by 64 MiB.
    @Test func aStalledClientsPushesAreReleased() async throws {
        let server = try await TestServer.start {
            $0.limits.outboundBufferBytes = 256 * 1024
            $0.limits.closeTimeout = .milliseconds(200)
        }
        let hub = server.application.hub
        let stalled = try await StalledClient.connect(port: server.port, token: try await server.token(user: "stalled"), subscribeTo: "big")
        try await waitUntil("subscribed") { hub.subscriptions == 1 }
        let before = try #require(ProcessSample.read(pid: getpid())).rssBytes
        for index in 0..<64 {
            var payload = ByteBuffer(repeating: UInt8(ascii: "a") + UInt8(index % 26), count: 1 << 20)
            payload.setString("\(index)", at: 0)
            hub.deliver(.text(payload), toSubscribersOf: EntityID("big")!)
        }
        try await waitUntil("the stalled client closed") { hub.connections == 0 }
        #expect(try await server.metrics()["herald_slow_consumer_disconnects_total"] == 1)
        let growth = try #require(ProcessSample.read(pid: getpid())).rssBytes - before
        #expect(growth < 24 << 20, "RSS grew by \(growth >> 20) MiB")
        try await stalled.close()
        try await server.stop()
    }
}
