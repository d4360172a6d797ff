import HeraldClient
import HeraldCore
import HeraldServer
import Testing

/// Refusals before the upgrade that protect the node: the Origin allow-list and connection limits.
@Suite struct ConnectLimitsTests {
    @Test func onlyAllowedBrowserOriginsConnect() async throws {
        let server = try await TestServer.start { $0.allowedOrigins = ["https://app.example"] }
        let token = try await server.token()
        let (status, body) = try await server.upgradeAttempt(query: "?access_token=\(token)", headers: ["Origin": "https://evil.example"])
        #expect(status == 403)
        #expect(body?["reason"] == "origin_not_allowed")
        // The allowed origin (compared case-insensitively), and a client that sends no Origin at all.
        // (Raw requests: the WebSocket client library always sends an Origin of its own.)
        func upgrade(origin: String?) async throws -> String {
            let head = try await RawHTTP.exchange(
                port: server.port,
                request: [
                    "GET /?access_token=\(token) HTTP/1.1", "Host: 127.0.0.1", "Upgrade: websocket", "Connection: Upgrade",
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13",
                ].joined(separator: "\r\n") + (origin.map { "\r\nOrigin: \($0)" } ?? "") + "\r\n\r\n"
            )
            return String(head.prefix { !$0.isNewline })
        }
        let allowed = try await upgrade(origin: "https://APP.example")
        #expect(allowed == "HTTP/1.1 101 Switching Protocols", "\(allowed)")
        #expect(try await upgrade(origin: nil) == "HTTP/1.1 101 Switching Protocols")
        #expect(try await upgrade(origin: "null") == "HTTP/1.1 403 Forbidden")
        try await server.stop()
    }

    @Test func connectionsPerNodeAndPerUserAreLimited() async throws {
        let server = try await TestServer.start {
            $0.limits.maxConnections = 3
            $0.limits.maxConnectionsPerUser = 2
        }
        let first = try await server.connect(user: "alice")
        let second = try await server.connect(user: "alice")
        try await waitUntil("two connections") { server.application.hub.connections == 2 }
        let (status, body) = try await server.upgradeAttempt(query: "?access_token=\(try await server.token(user: "alice"))")
        #expect(status == 503)
        #expect(body?["reason"] == "over_capacity")
        let bob = try await server.connect(user: "bob")
        try await waitUntil("three connections") { server.application.hub.connections == 3 }
        let (nodeStatus, nodeBody) = try await server.upgradeAttempt(query: "?access_token=\(try await server.token(user: "carol"))")
        #expect(nodeStatus == 503)
        #expect(nodeBody?["reason"] == "over_capacity")
        // A slot that frees up can be taken again.
        first.close()
        _ = try await first.closeCode()
        try await waitUntil("a slot is free") { server.application.hub.connections == 2 }
        try await server.connect(user: "alice").expectNothingPending()
        try await second.expectNothingPending()
        try await bob.expectNothingPending()
        #expect(try await server.get("/admin/stats").1?["refusals"] == .object(["connect.over_capacity": .int(2)]))
        try await server.stop()
    }

    @Test func aFloodGetsRateLimitedThenClosedWith1008() async throws {
        let server = try await TestServer.start { $0.limits.maxMessagesPerSecond = 5 }
        let socket = try await server.connect()
        for index in 0..<40 { socket.send(#"{"action":"ping","requestId":\#(index)}"#) }
        var replies: [String] = []
        while true {
            switch await socket.next() {
            case .text(let text)?:
                let reply = try #require(JSON.parse(text))
                replies.append(reply["type"] == "pong" ? "pong" : reply["code"]?.stringValue ?? text)
            case .closed(let code, _)?:
                #expect(code == 1008)
                #expect(replies.prefix(5) == ["pong", "pong", "pong", "pong", "pong"])
                #expect(replies.contains("rate_limited"))
                #expect(replies.count < 40)
                let refusals = try await server.get("/admin/stats").1?["refusals"]
                #expect(refusals?["close.1008"] == .int(1))
                #expect(refusals?["message.rate_limited"] == .int(replies.count { $0 == "rate_limited" }))
                try await server.connect().expectNothingPending()  // everyone else is served
                try await server.stop()
                return
            default:
                throw TestFailure("the flooding connection was not closed")
            }
        }
    }

    @Test func handshakesPerSourceAddressAreLimited() async throws {
        let server = try await TestServer.start { $0.limits.maxHandshakesPerSecond = 3 }
        // Ten attempts at once: at most three (plus what refills meanwhile) get past the limit.
        let answers = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<10 {
                group.addTask {
                    let (status, body) = try await server.upgradeAttempt(query: "?access_token=forged")
                    return "\(status) \(body?["reason"]?.stringValue ?? "")"
                }
            }
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
        // Those that pass are refused later, for their token; the rest are refused first.
        #expect(answers.filter { $0 == "401 token_invalid" }.count >= 3)
        #expect(answers.contains("429 rate_limited"))
        #expect(answers.allSatisfy { $0 == "401 token_invalid" || $0 == "429 rate_limited" })
        let refusals = try await server.get("/admin/stats").1?["refusals"]
        #expect(refusals?["connect.rate_limited"] == .int(answers.count { $0 == "429 rate_limited" }))
        #expect(refusals?["connect.token_invalid"] == .int(answers.count { $0 == "401 token_invalid" }))
        try await server.stop()
    }
}
