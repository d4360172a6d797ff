import Foundation
import HeraldCore
import Synchronization
import Testing

/// Nobody makes Herald read a body without a key: a SigV4 header that cannot be right is refused
/// from its headers alone, and a refusal sent before the body was read (`401`, `413`, a bad id,
/// oversized headers) carries `Connection: close` and the connection is closed instead of read on.
@Suite struct UnreadBodyTests {
    /// A head that declares a 256 KiB body.
    private static func head(authorization: String, path: String = "/events", length: Int = 262_144) -> String {
        "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: \(authorization)\r\nContent-Length: \(length)\r\n\r\n"
    }

    @Test func garbageSignaturesWithLargeSlowBodiesAreRefusedUnreadAndCostNoMemory() async throws {
        let server = try await ServeProcess.start()
        let baseline = try server.residentBytes
        // Each sends its head at once, then its 256 KiB body at 16 KiB/s (16 s for the whole body),
        // and stops sending when the answer comes, as a client does.
        let head = Array(Self.head(authorization: "AWS4-HMAC-SHA256 Credential=nonsense").utf8)
        let connections = try await RawConnection.open(200, port: server.port, sending: head)
        let answeredEarly = Tally()
        let senders = Task {
            await withTaskGroup(of: Void.self) { group in
                for connection in connections {
                    group.addTask {
                        // Early: the answer came, or the server closed the connection (a send failed), before the 64th chunk.
                        for _ in 0..<64 {
                            guard !connection.receivedText.hasPrefix("HTTP/1.1 401"),
                                await connection.send([UInt8](repeating: UInt8(ascii: "x"), count: 4_096))
                            else {
                                answeredEarly.count.add(1, ordering: .relaxed)
                                return
                            }
                            try? await Task.sleep(for: .milliseconds(250))
                        }
                    }
                }
            }
        }
        let refused = { connections.filter { $0.receivedText.hasPrefix("HTTP/1.1 401") }.count }
        try? await waitUntil("every request is refused", within: .seconds(20)) { refused() == connections.count }
        let grown = try server.residentBytes - baseline
        await senders.value
        #expect(refused() == connections.count)
        #expect(answeredEarly.count.load(ordering: .relaxed) == connections.count, "refused before the whole body was sent")
        #expect(connections.allSatisfy { $0.receivedText.lowercased().contains("connection: close") })
        #expect(grown < 10 << 20, "resident memory grew by \(grown >> 10) KiB")
        try? await waitUntil("every refused connection is closed") { connections.allSatisfy { !$0.isOpen } }
        #expect(connections.allSatisfy { !$0.isOpen })
        #expect(await server.stop() == 0)
    }

    @Test func a401ToA64MiBBodyClosesTheConnectionPromptly() async throws {
        let server = try await TestServer.start()
        let connection = try await RawConnection.open(port: server.port)
        let sent = Atomic<Int>(0)
        let sender = Task {
            guard await connection.send(Self.head(authorization: "Bearer wrong-key", length: 64 << 20)) else { return }
            let chunk = [UInt8](repeating: UInt8(ascii: "x"), count: 64 << 10)
            for _ in 0..<1024 {
                guard await connection.send(chunk) else { return }
                sent.add(chunk.count, ordering: .relaxed)
            }
        }
        #expect(await connection.received(within: .seconds(5)) { $0.contains("\r\n\r\n") })
        #expect(connection.receivedText.hasPrefix("HTTP/1.1 401"))
        #expect(connection.receivedText.lowercased().contains("connection: close"))
        #expect(await connection.closed(within: .seconds(4)))
        await sender.value
        #expect(sent.load(ordering: .relaxed) < 32 << 20, "the server read on: \(sent.load(ordering: .relaxed) >> 20) MiB")
        try await server.stop()
    }

    @Test func a413IsAnsweredWithConnectionCloseAndTheRestIsNotRead() async throws {
        let server = try await TestServer.start()
        let connection = try await RawConnection.open(port: server.port)
        let sender = Task {
            guard await connection.send(Self.head(authorization: "Bearer \(TestServer.publishKey)", length: 64 << 20)) else { return }
            let chunk = [UInt8](repeating: UInt8(ascii: "x"), count: 64 << 10)
            for _ in 0..<1024 { guard await connection.send(chunk) else { return } }
        }
        #expect(await connection.received(within: .seconds(5)) { $0.contains("\r\n\r\n") })
        #expect(connection.receivedText.hasPrefix("HTTP/1.1 413"))
        #expect(connection.receivedText.lowercased().contains("connection: close"))
        #expect(await connection.closed(within: .seconds(4)))
        sender.cancel()
        try await server.stop()
    }

    @Test func oversizedHeadersGet400AndTheSocketIsClosed() async throws {
        let server = try await TestServer.start()
        let connection = try await RawConnection.open(port: server.port)
        await connection.send("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: \(String(repeating: "p", count: 40_000))\r\n\r\n")
        #expect(await connection.received(within: .seconds(5)) { $0.contains("\r\n\r\n") })
        #expect(connection.receivedText.hasPrefix("HTTP/1.1 400"))
        #expect(connection.receivedText.lowercased().contains("connection: close"))
        #expect(await connection.closed(within: .seconds(2)))
        try await server.stop()
    }
}

/// A count shared by concurrent tasks.
private final class Tally: Sendable {
    let count = Atomic<Int>(0)
}
