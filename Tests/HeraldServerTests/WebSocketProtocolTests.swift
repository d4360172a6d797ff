import Foundation
import HeraldCore
import HeraldServer
import Testing

/// RFC 6455 enforced on what clients send: frames that break it, and close frames with codes an
/// endpoint may not send, close the connection with `1002` (a bad close reason with `1007`);
/// pings count against the message limit; and every close the server starts reaches the client
/// as a close frame and an orderly end of stream, never as a TCP reset.
@Suite struct WebSocketProtocolTests {
    private static let ping = RawWebSocket.frame(opcode: 0x9, payload: Array("p".utf8))

    @Test func framesThatBreakTheProtocolCloseWith1002() async throws {
        let server = try await TestServer.start()
        let token = try await server.token()
        let message = Array(#"{"action":"ping"}"#.utf8)
        var cases: [(String, [UInt8])] = [
            ("unmasked text", RawWebSocket.frame(opcode: 0x1, payload: message, masked: false)),
            ("unmasked ping", RawWebSocket.frame(opcode: 0x9, masked: false)),
            ("unmasked close", RawWebSocket.frame(opcode: 0x8, payload: [0x03, 0xE8], masked: false)),
            ("RSV1", RawWebSocket.frame(opcode: 0x1, payload: message, reservedBits: 0b100)),
            ("RSV2", RawWebSocket.frame(opcode: 0x1, payload: message, reservedBits: 0b010)),
            ("RSV3 on a ping", RawWebSocket.frame(opcode: 0x9, reservedBits: 0b001)),
            (
                "unmasked continuation",
                RawWebSocket.frame(opcode: 0x1, payload: Array(message.prefix(5)), fin: false)
                    + RawWebSocket.frame(opcode: 0x0, payload: Array(message.dropFirst(5)), masked: false)
            ),
            (
                "RSV1 on a continuation",
                RawWebSocket.frame(opcode: 0x1, payload: Array(message.prefix(5)), fin: false)
                    + RawWebSocket.frame(opcode: 0x0, payload: Array(message.dropFirst(5)), reservedBits: 0b100)
            ),
        ]
        for opcode: UInt8 in [0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF] {
            cases.append(("reserved opcode \(opcode)", RawWebSocket.frame(opcode: opcode, payload: message)))
        }
        for (name, bytes) in cases {
            let outcome = try await RawWebSocket.exchange(port: server.port, token: token, sending: bytes)
            #expect(outcome.status == "HTTP/1.1 101 Switching Protocols", "\(name)")
            #expect(outcome.frames.map(\.opcode) == [0x8] && outcome.closeCode == 1002, "\(name): \(outcome.frames)")
            #expect(outcome.ending == .endOfStream, "\(name)")
        }
        // The same frames done right are served.
        let fine = try await RawWebSocket.exchange(
            port: server.port,
            token: token,
            sending: RawWebSocket.frame(opcode: 0x1, payload: Array(message.prefix(5)), fin: false)
                + RawWebSocket.frame(opcode: 0x0, payload: Array(message.dropFirst(5))) + Self.ping + RawWebSocket.close(1000)
        )
        #expect(fine.frames.map(\.text) == [#"{"type":"pong"}"#, "p", ""] && fine.closeCode == 1000, "\(fine.frames)")
        try await server.waitForMetric(#"herald_closes_total{code="1002"}"#, toBe: Double(cases.count))
        try await server.stop()
    }

    @Test func closeFramesAnEndpointMayNotSendGet1002() async throws {
        let server = try await TestServer.start()
        let token = try await server.token()
        for code: UInt16 in [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65_535] {
            let outcome = try await RawWebSocket.exchange(port: server.port, token: token, sending: RawWebSocket.close(code))
            #expect(outcome.closeCode == 1002 && outcome.ending == .endOfStream, "close code \(code): \(outcome.frames)")
        }
        let oneByte = try await RawWebSocket.exchange(port: server.port, token: token, sending: RawWebSocket.frame(opcode: 0x8, payload: [0x03]))
        #expect(oneByte.closeCode == 1002, "\(oneByte.frames)")
        let badReason = try await RawWebSocket.exchange(port: server.port, token: token, sending: RawWebSocket.close(1000, reason: [0xC3, 0x28]))
        #expect(badReason.closeCode == 1007, "\(badReason.frames)")

        // Codes an endpoint may send are echoed; an empty close is answered with an empty one.
        for code: UInt16 in [1000, 1001, 1002, 1003, 1007, 1008, 1011, 1012, 1014, 3000, 4000, 4999] {
            let outcome = try await RawWebSocket.exchange(
                port: server.port,
                token: token,
                sending: RawWebSocket.close(code, reason: Array("bye é".utf8))
            )
            #expect(outcome.frames == [RawWebSocket.Frame(opcode: 0x8, payload: [UInt8(code >> 8), UInt8(code & 0xFF)])], "close code \(code)")
        }
        let empty = try await RawWebSocket.exchange(port: server.port, token: token, sending: RawWebSocket.close(nil))
        #expect(empty.frames == [RawWebSocket.Frame(opcode: 0x8, payload: [])])
        // 12 refused codes, the 1-byte payload, and the client's own 1002 echoed; the bad reason and the client's 1007.
        try await server.waitForMetric(#"herald_closes_total{code="1002"}"#, toBe: 14)
        try await server.waitForMetric(#"herald_closes_total{code="1007"}"#, toBe: 2)
        try await server.stop()
    }

    /// Pings are messages for `--max-messages-per-second`: within the limit each is answered, over
    /// it they are dropped unanswered, and a second's worth of refused ones in a row closes with 1008.
    @Test func aPingFloodIsRefusedThenClosed() async throws {
        let server = try await TestServer.start { $0.limits.maxMessagesPerSecond = 5 }
        let pings = Array(repeating: Self.ping, count: 40).flatMap { $0 }
        let outcome = try await RawWebSocket.exchange(port: server.port, token: try await server.token(), sending: pings)
        // 5 answered, 6 refused in a row: closed.
        #expect(outcome.frames.map(\.opcode) == Array(repeating: 0xA, count: 5) + [0x8], "\(outcome.frames)")
        #expect(outcome.closeCode == 1008 && outcome.ending == .endOfStream)
        let (_, stats) = try await server.get("/admin/stats")
        #expect(stats?["refusals"]?["ping.rate_limited"] == .int(5) && stats?["refusals"]?["close.1008"] == .int(1))
        try await server.stop()
    }

    /// Today the server closed the socket with the flood still unread in its receive buffer, and
    /// the kernel answered with a reset: the client usually lost the 1008 close frame. Now the
    /// server shuts its output after the close frame and drains the input, so the client reads
    /// every reply, the close frame, and an orderly end of stream.
    @Test func aFloodedClientReadsItsCloseFrameNotAReset() async throws {
        let server = try await TestServer.start {
            $0.limits.maxMessagesPerSecond = 5
            $0.limits.closeTimeout = .seconds(5)
        }
        let flood = Array(repeating: RawWebSocket.text(#"{"action":"ping","requestId":"flood"}"#), count: 4_000).flatMap { $0 }
        let outcome = try await RawWebSocket.exchange(port: server.port, token: try await server.token(), sending: flood)
        #expect(outcome.ending == .endOfStream)
        #expect(outcome.closeCode == 1008, "\(outcome.frames.suffix(3))")
        let codes = outcome.frames.compactMap { JSON.parse($0.payload)?["type"]?.stringValue ?? JSON.parse($0.payload)?["code"]?.stringValue }
        #expect(codes.filter { $0 == "pong" }.count == 5 && outcome.frames.count == 5 + 5 + 1, "\(codes)")
        try await server.waitForMetric(#"herald_closes_total{code="1008"}"#, toBe: 1)
        try await server.stop()
    }
}

extension TestServer {
    /// Waits (at most 10 s) until the `/metrics` series `name` has `value`.
    func waitForMetric(_ name: String, toBe value: Double) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        var last: Double?
        while ContinuousClock.now < deadline {
            last = try await metrics()[name]
            if last == value { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestFailure("\(name) is \(last.map { "\($0)" } ?? "absent"), not \(value)")
    }
}
