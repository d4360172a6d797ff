import Foundation
import HTTPTypes
import HeraldClient
import HeraldCore
import Testing

@testable import HeraldServer
@testable import HeraldTokens

@Suite struct ConnectTests {
    @Test func everyTokenSourceConnects() async throws {
        let server = try await TestServer.start()
        let token = try await server.token()
        let sockets = [
            try await HeraldSocket.connect(url: server.wsURL + "?access_token=" + token),
            try await HeraldSocket.connect(url: server.wsURL + "?token=" + token),
            try await HeraldSocket.connect(url: server.wsURL, headers: [.secWebSocketProtocol: "websocket, \(token)"]),
            try await HeraldSocket.connect(url: server.wsURL, headers: [.authorization: "Bearer \(token)"]),
        ]
        for socket in sockets {
            socket.send(#"{"action":"ping","requestId":1}"#)
            #expect(try await socket.json() == .object(["type": "pong", "requestId": .int(1)]))
        }
        try await server.stop()
    }

    @Test func sourcesAreTriedInSpecOrder() async throws {
        let server = try await TestServer.start()
        let good = try await server.token()
        // access_token wins over token: a bad access_token is rejected even with a good token.
        #expect(try await server.upgradeAttempt(query: "?access_token=bad&token=\(good)").0 == 401)
        // an empty parameter counts as absent.
        try await HeraldSocket.connect(url: server.wsURL + "?access_token=&token=" + good).expectNothingPending()
        // token wins over the Authorization header.
        #expect(try await server.upgradeAttempt(query: "?token=bad", headers: ["Authorization": "Bearer \(good)"]).0 == 401)
        try await server.stop()
    }

    @Test func rejectionsCarryTheirReason() async throws {
        let server = try await TestServer.start()
        let issuer = TokenIssuer(secret: TestServer.secret)
        let now = Date()
        let expired = try await issuer.token(now: now.addingTimeInterval(-7200))
        let wrongKey = try await TokenIssuer(secret: String(repeating: "w", count: 64)).token()
        let hs512 = try await TokenIssuer(secret: TestServer.secret, algorithm: "HS512").token()
        let header = Data(#"{"alg":"none","typ":"JWT"}"#.utf8).base64URL
        let claims = Data(#"{"exp":\#(Int(now.timeIntervalSince1970) + 600),"sub":"u"}"#.utf8).base64URL
        let unsigned = "\(header).\(claims)."
        let cases: [(String, [String: String], Int, String)] = [
            ("", [:], 401, "token_missing"),
            ("?token=", [:], 401, "token_missing"),
            ("?token=garbage", [:], 401, "token_invalid"),
            ("?token=\(wrongKey)", [:], 401, "token_invalid"),
            ("?token=\(unsigned)", [:], 401, "token_invalid"),
            ("?token=\(expired)", [:], 401, "token_expired"),
            ("", ["Sec-WebSocket-Protocol": "chat, \(try await server.token())"], 400, "bad_subprotocol"),
        ]
        for (query, headers, status, reason) in cases {
            let (actual, body) = try await server.upgradeAttempt(query: query, headers: headers)
            #expect(actual == status, "\(query) \(headers)")
            #expect(body?["reason"] == .string(reason), "\(query)")
            #expect(body?["message"]?.stringValue?.isEmpty == false)
        }
        // HS512 is refused when only HS256 is configured.
        let strict = try await TestServer.start { $0.tokens.algorithms = ["HS256"] }
        #expect(try await strict.upgradeAttempt(query: "?token=\(hs512)").1?["reason"] == "token_invalid")
        try await HeraldSocket.connect(url: strict.wsURL + "?token=" + strict.token()).expectNothingPending()
        try await strict.stop()
        try await server.stop()
    }

    /// curl --http2 asks for `Upgrade: h2c`: Herald answers over HTTP/1.1 (RFC 9110 §7.8), and a
    /// request NIO cannot parse gets 400 and a closed socket (not a connection left hanging).
    @Test func unknownUpgradesAreServedAsHTTP1AndGarbageGets400() async throws {
        let server = try await TestServer.start()
        let h2c = try await RawHTTP.exchange(
            port: server.port,
            request:
                "GET /health HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n"
        )
        #expect(h2c.hasPrefix("HTTP/1.1 200 OK"))
        let garbage = try await RawHTTP.exchange(port: server.port, request: "GET / HTTP/1.1\r\nHost: x\r\nBad\u{0}Header: 1\r\n\r\n")
        #expect(garbage.hasPrefix("HTTP/1.1 400"))
        // Header fields over --max-header-bytes (32 KiB) in all: 400 as well; just under it is fine.
        let big = "GET /health HTTP/1.1\r\nHost: x\r\nX-Pad: \(String(repeating: "p", count: 33_000))\r\n\r\n"
        #expect(try await RawHTTP.exchange(port: server.port, request: big).hasPrefix("HTTP/1.1 400"))
        let fits = "GET /health HTTP/1.1\r\nHost: x\r\nX-Pad: \(String(repeating: "p", count: 30_000))\r\n\r\n"
        #expect(try await RawHTTP.exchange(port: server.port, request: fits).hasPrefix("HTTP/1.1 200"))
        try await server.stop()
    }

    @Test func claimChecks() async throws {
        let verifier = try await TokenVerifier(
            configuration: {
                var tokens = HeraldConfiguration.Tokens()
                tokens.secret = TestServer.secret
                return tokens
            }()
        )
        let now = 1_800_000_000.0
        func check(_ claims: String) -> TokenRejection.Reason? {
            if case .failure(let rejection) = verifier.check(JSON.parse(claims)!, now: now) { return rejection.reason }
            return nil
        }
        #expect(check(#"{"exp":1800000100,"data":{"userId":"u"}}"#) == nil)
        #expect(check(#"{"exp":1799999980,"sub":"u"}"#) == nil)  // within the 30 s leeway
        #expect(check(#"{"exp":1799999960,"sub":"u"}"#) == .expired)
        #expect(check(#"{"sub":"u"}"#) == .invalid)  // exp is required
        #expect(check(#"{"exp":1800000100,"nbf":1800000060,"sub":"u"}"#) == .notYetValid)
        #expect(check(#"{"exp":1800000100,"iat":1800000060,"sub":"u"}"#) == .notYetValid)
        #expect(check(#"{"exp":1800000100,"nbf":1800000020,"sub":"u"}"#) == nil)
        #expect(check(#"{"exp":1800000100}"#) == .invalid)  // no identity
    }

    @Test func notYetValidTokenIsRejectedBeforeUpgrade() async throws {
        let server = try await TestServer.start()
        var claims = TokenIssuer.Claims()
        claims.notBefore = Date().addingTimeInterval(120)
        let early = try await TokenIssuer(secret: TestServer.secret).token(for: claims)
        let (status, body) = try await server.upgradeAttempt(query: "?token=\(early)")
        #expect(status == 401)
        #expect(body?["reason"] == "token_not_yet_valid")
        try await server.stop()
    }

    @Test func subprotocolIsEchoedInTheClientsSpelling() async throws {
        let server = try await TestServer.start()
        let token = try await server.token()
        let response = try await RawHTTP.exchange(
            port: server.port,
            request: "GET /?token=\(token) HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: WebSocket\r\n\r\n"
        )
        #expect(response.hasPrefix("HTTP/1.1 101"))
        #expect(response.lowercased().contains("sec-websocket-protocol: websocket"))
        #expect(response.contains("Sec-WebSocket-Protocol: WebSocket"))
        #expect(!response.contains(token))
        try await server.stop()
    }

    /// An upgrade attempt on a keep-alive connection that already served a request reaches the
    /// router, not the upgrader: it is still answered, with `Connection: close`.
    @Test func anUpgradeOnAReusedConnectionIsAnsweredAndClosed() async throws {
        let server = try await TestServer.start()
        let upgrade =
            "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        let received = try await RawHTTP.received(port: server.port, request: "GET /health HTTP/1.1\r\nHost: x\r\n\r\n" + upgrade) {
            $0.contains("token_missing")
        }
        let heads = received.components(separatedBy: "HTTP/1.1 ").dropFirst().map { $0.lowercased() }
        #expect(heads.count == 2)
        #expect(heads.first?.hasPrefix("200") == true)
        #expect(heads.last?.hasPrefix("401") == true)
        #expect(heads.last?.contains("connection: close") == true)
        try await server.stop()
    }

    @Test func malformedUpgradeIsBadRequestEvenWithAGoodToken() async throws {
        let server = try await TestServer.start()
        let (status, body) = try await server.upgradeAttempt(query: "?token=\(try await server.token())", key: false)
        #expect(status == 400)
        #expect(body?["reason"] == "bad_upgrade")
        try await server.stop()
    }
}

extension Data {
    var base64URL: String {
        base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
