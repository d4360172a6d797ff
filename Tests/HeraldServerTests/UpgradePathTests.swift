import Foundation
import HeraldClient
import HeraldCore
import Testing

@testable import HeraldServer

/// A plain WebSocket upgrade is settled by `ConnectHandshake` straight from the request's bytes;
/// any other first request goes to NIO's HTTP parser and upgrade handler. Both paths must answer
/// alike, and the first must have the connection registered before the client sees the `101`.
@Suite struct UpgradePathTests {
    private static func request(_ query: String, extra: [String] = []) -> String {
        ([
            "GET /\(query) HTTP/1.1", "Host: 127.0.0.1", "Upgrade: websocket", "Connection: Upgrade",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13",
        ] + extra).joined(separator: "\r\n") + "\r\n\r\n"
    }

    /// The status line and the body of a refusal, read to the server's end of stream.
    private static func refusal(_ port: Int, _ request: String) async throws -> (status: String, body: JSONValue?, headers: String) {
        let received = try await RawHTTP.received(port: port, request: request) { _ in false }
        let parts = received.components(separatedBy: "\r\n\r\n")
        let head = parts.first ?? ""
        return (String(head.split(separator: "\r\n").first ?? ""), JSON.parse(Array((parts.dropFirst().first ?? "").utf8)), head.lowercased())
    }

    @Test func aRefusalReadsTheSameOnBothPaths() async throws {
        let server = try await TestServer.start()
        // Plain: settled from the bytes. With `Content-Length: 0` (a body, however empty): NIO's path.
        let plain = try await Self.refusal(server.port, Self.request("?access_token=not-a-token"))
        let judgedByNIO = try await Self.refusal(server.port, Self.request("?access_token=not-a-token", extra: ["Content-Length: 0"]))
        try await server.stop()

        #expect(plain.status == "HTTP/1.1 401 Unauthorized")
        #expect(judgedByNIO.status == plain.status)
        #expect(plain.body == .object(["message": "the token is not a well-formed JWT", "reason": "token_invalid"]))
        #expect(judgedByNIO.body == plain.body)
        for headers in [plain.headers, judgedByNIO.headers] {
            #expect(headers.contains("content-type: application/json; charset=utf-8"))
            #expect(headers.contains("connection: close"))
            #expect(headers.contains("content-length: 73"))
        }
    }

    @Test func aTokenInAnEscapedQueryIsReadAsHummingbirdReadsIt() async throws {
        let server = try await TestServer.start()
        let token = try await server.token(user: "escaped")
        // `%2E` is the dot between the token's parts; a malformed escape is taken as sent.
        let escaped = token.replacingOccurrences(of: ".", with: "%2E")
        let socket = try await HeraldSocket.connect(url: server.wsURL + "?x=%zz&access_token=" + escaped)
        socket.send(#"{"action":"ping","requestId":1}"#)
        #expect(try await socket.json() == .object(["type": "pong", "requestId": .int(1)]))
        socket.close()
        try await server.stop()
    }

    /// The connection is in the hub before its `101` is written: a notification published the
    /// moment the client sees the upgrade reaches it (NIO's upgrader wrote the `101` first, and the
    /// connection joined the hub a little later).
    @Test func aNotificationPublishedAsSoonAsTheUpgradeIsSeenArrives() async throws {
        let server = try await TestServer.start()
        for round in 0..<20 {
            let socket = try await server.connect(user: "early-\(round)")
            let answer = try await server.publish("/users/early-\(round)/notifications", #"{"message":"m\#(round)"}"#)
            #expect(answer.status == 202)
            let push = try await socket.json()
            #expect(push["type"] == "User Push Notification" && push["message"] == .string("m\(round)"), "\(push)")
            socket.close()
        }
        try await server.stop()
    }

    @Test func theAcceptKeyIsRFC6455s() {
        // RFC 6455 §1.3's example.
        #expect(ConnectHandshake.acceptValue(key: "dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    @Test func onlyAPlainUpgradeHeadIsReadFromTheBytes() {
        func parse(_ head: String) -> UpgradeRequestHead? {
            Array(head.utf8).withUnsafeBytes { UpgradeRequestHead.parse($0) }
        }
        let lines = [
            "GET /?access_token=t HTTP/1.1", "Host: h", "Upgrade: WebSocket", "Connection: keep-alive, Upgrade",
            "Sec-WebSocket-Key: k==", "Sec-WebSocket-Version: 13", "Origin: https://a.example",
        ]
        let plain = parse(lines.joined(separator: "\r\n") + "\r\n")
        #expect(plain?.target == "/?access_token=t")
        #expect(plain?.webSocketKey == "k==")
        #expect(plain?.header("origin") == "https://a.example")
        #expect(plain?.queryParameter("access_token") == "t")
        #expect(plain?.queryParameter("token") == nil)
        // Everything else is NIO's to judge.
        for (index, replacement) in [
            (0, "POST /?access_token=t HTTP/1.1"), (0, "GET /?access_token=t HTTP/1.0"), (0, "GET * HTTP/1.1"),
            (2, "Upgrade: h2c"), (3, "Connection: keep-alive"), (4, "Sec-WebSocket-Key: a, b"), (5, "Sec-WebSocket-Version: 8"),
            (6, "Origin : x"), (6, " folded"), (6, "Content-Length: 0"), (6, "Transfer-Encoding: chunked"), (6, "X: a\u{1}b"),
        ] {
            var changed = lines
            changed[index] = replacement
            #expect(parse(changed.joined(separator: "\r\n") + "\r\n") == nil, "\(replacement)")
        }
        #expect(parse(lines.joined(separator: "\n") + "\n") == nil, "bare LF")
        #expect(parse((lines + ["Host: other"]).joined(separator: "\r\n") + "\r\n") == nil, "two Host headers")
        #expect(parse((lines + ["Sec-WebSocket-Key: k2=="]).joined(separator: "\r\n") + "\r\n") == nil, "two keys")
    }
}
