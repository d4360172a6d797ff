import Foundation
import HeraldClient
import HeraldCore
import HeraldServer
import NIOCore
import NIOPosix
import Testing

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

        // 8 MB for each subscriber: more than a stalled loopback socket's kernel buffers (which
        // grow to ~4 MB) plus 256 KiB, in pushes small enough that a reading client never has
        // 256 KiB waiting. Eight publishers at a time keep the test short.
        let message = String(repeating: "x", count: 20_000)
        let publishes = 400
        try await withThrowingTaskGroup(of: Void.self) { group in
            for lane in 0..<8 {
                group.addTask {
                    for _ in stride(from: lane, to: publishes, by: 8) { _ = try await server.publishEntity("busy", message: message) }
                }
            }
            try await group.waitForAll()
        }

        try await waitUntil("the stalled client closed") { server.application.hub.connections == 1 }
        #expect(server.application.hub.subscriptions == 1)
        for seq in 1...publishes {
            let push = try await reader.json()
            #expect(push["seq"] == .int(seq))
        }
        try await reader.expectNothingPending()
        try await stalled.close()
        try await server.stop()
    }

    /// Polls `condition` every 20 ms for at most 10 s.
    private func waitUntil(_ what: String, _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while !condition() {
            guard ContinuousClock.now < deadline else { throw TestFailure("not within 10 s: \(what)") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}

/// A raw TCP client that upgrades, subscribes and then never reads a byte (auto-read off, small
/// receive buffer): the slowest consumer there is.
private struct StalledClient {
    let channel: any Channel

    static func connect(port: Int, token: String, subscribeTo entity: String) async throws -> StalledClient {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.autoRead, value: false)
            .channelOption(.socketOption(.so_rcvbuf), value: 4096)
            .connect(host: "127.0.0.1", port: port)
            .get()
        var bytes = ByteBuffer(string: [
            "GET /?access_token=\(token) HTTP/1.1", "Host: 127.0.0.1:\(port)", "Upgrade: websocket", "Connection: Upgrade",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13", "", "",
        ].joined(separator: "\r\n"))
        // An unmasked text frame is enough for Herald; the subscribe follows the request at once.
        let subscribe = Array(#"{"action":"subscribe","entityId":"\#(entity)"}"#.utf8)
        bytes.writeBytes([0x81, UInt8(subscribe.count)] + subscribe)
        try await channel.writeAndFlush(bytes).get()
        return StalledClient(channel: channel)
    }

    func close() async throws {
        try? await channel.close().get()
    }
}
