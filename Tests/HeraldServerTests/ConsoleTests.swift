import Foundation
import HeraldClient
import HeraldCore
import NIOCore
import NIOHTTP1
import Testing

@testable import HeraldServer
@testable import HeraldTokens

/// The development console (CLIENT.md), run in a real headless browser (Debian's Chromium).
@Suite struct ConsoleTests {
    @Test func aBrowserConnectsSubscribesPublishesAndSeesThePushAndTheFigures() async throws {
        let server = try await TestServer.start { $0.isDevelopment = true }
        let page = try await Self.headlessDOM(of: "\(server.httpURL)/console?demo")
        #expect(page.contains(#"<span id="state" data-demo="done">open</span>"#), "the demo round finished")
        #expect(page.contains(#"subscribed  {"entityId":"myEntityId","recovered":true}"#))
        #expect(page.contains(#"update  {"type":"Entity Updated","entityId":"myEntityId","message":"hello from the console","seq":1,"#))
        #expect(page.contains(#"published  {"status":202,"#))
        #expect(page.contains(#"connections <b id="stat-connections">1</b>"#), "the figures come from /admin/stats")
        try await server.stop()
    }

    @Test func itsTokensAreTheDevelopmentSecretsForTheUserAsked() async throws {
        let server = try await TestServer.start { $0.isDevelopment = true }
        let (status, body) = try await server.get("/console/token?userId=ada", key: nil)
        let token = try #require(body?["authToken"]?.stringValue)
        #expect(status == 200)
        let socket = try await HeraldSocket.connect(url: server.wsURL + "?access_token=" + token)
        try await waitUntil("ada is connected") { server.application.hub.connections(of: UserID("ada")!) == 1 }
        socket.close()
        #expect(try await server.get("/console/token?userId=", key: nil).0 == 400)
        try await server.stop()
    }

    @Test func withoutDevelopmentModeOrOffLoopbackThereIsNoConsole() async throws {
        let server = try await TestServer.start()
        #expect(try await server.request(.GET, "/console", key: nil).status == 404)
        #expect(try await server.request(.GET, "/console/token", key: nil).status == 404)
        try await server.stop()
        var exposed = HeraldConfiguration()
        exposed.isDevelopment = true
        exposed.tokens.secret = TestServer.secret
        exposed.publishKeys = [TestServer.publishKey]
        exposed.listen.host = "0.0.0.0"
        #expect(ClientRoutes.console(for: exposed) == nil, "the page holds the publish key: never off loopback")
        exposed.listen.host = "127.0.0.1"
        #expect(ClientRoutes.console(for: exposed) != nil)
    }

    /// A DNS-rebinding page reaches the development server under its own name: the console and its
    /// tokens answer only to this machine's names.
    @Test func theConsoleAnswersOnlyToThisMachinesNames() async throws {
        let server = try await TestServer.start { $0.isDevelopment = true }
        func status(_ path: String, host: String) async throws -> String {
            try await RawHTTP.exchange(port: server.port, request: "GET \(path) HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n\r\n")
                .split(separator: "\r\n").first.map(String.init) ?? ""
        }
        for path in ["/console", "/console/token?userId=ada"] {
            for host in ["localhost:\(server.port)", "LOCALHOST:\(server.port)", "127.0.0.1:\(server.port)", "[::1]:\(server.port)", "localhost"] {
                #expect(try await status(path, host: host) == "HTTP/1.1 200 OK", "\(path) \(host)")
            }
            for host in [
                "attacker.example:\(server.port)", "attacker.example", "127.0.0.1.attacker.example", "localhost.:\(server.port)", "[::1]x",
                "127.0.0.2",
            ] {
                #expect(try await status(path, host: host) == "HTTP/1.1 403 Forbidden", "\(path) \(host)")
            }
        }
        let refused = try await RawHTTP.received(
            port: server.port,
            request: "GET /console/token HTTP/1.1\r\nHost: attacker.example\r\nConnection: close\r\n\r\n",
            until: { $0.hasSuffix("}") }
        )
        #expect(refused.contains(#""reason":"host_not_allowed""#) && !refused.contains("authToken"))
        try await server.stop()
    }

    /// With `--dev` and no `--allowed-origin`, only the console's own pages may open a WebSocket.
    @Test func inDevelopmentOnlyTheConsolesOriginsMayConnect() async throws {
        let server = try await TestServer.start { $0.isDevelopment = true }
        let token = try await server.token()
        for origin in [
            "http://localhost:\(server.port)", "http://127.0.0.1:\(server.port)", "http://[::1]:\(server.port)", "HTTP://LOCALHOST:\(server.port)",
        ] {
            #expect(try await server.upgradeAttempt(query: "?access_token=\(token)", headers: ["Origin": origin]).0 == 101, "\(origin)")
        }
        for origin in [
            "https://evil.example", "http://localhost:\(server.port + 1)", "http://localhost", "null", "http://attacker.example:\(server.port)",
        ] {
            let (status, body) = try await server.upgradeAttempt(query: "?access_token=\(token)", headers: ["Origin": origin])
            #expect(status == 403 && body?["reason"] == "origin_not_allowed", "\(origin)")
        }
        // A client that sends no Origin (not a browser) is not refused for it, nor one on this machine
        // that names its target as its origin (`herald listen`'s WebSocket client sends `ws://127.0.0.1`).
        #expect(try await server.upgradeAttempt(query: "?access_token=\(token)").0 == 101)
        #expect(try await server.upgradeAttempt(query: "?access_token=\(token)", headers: ["Origin": "ws://127.0.0.1"]).0 == 101)
        #expect(try await server.upgradeAttempt(query: "?access_token=\(token)", headers: ["Origin": "ws://evil.example"]).0 == 403)
        try await server.stop()
    }

    /// A publish key chosen by the operator cannot break out of the page's script.
    @Test func theKeyInThePageCannotCloseItsScript() async throws {
        let key = "k</script><script>alert(1)</script>\u{2028}&\"x"
        let server = try await TestServer.start {
            $0.isDevelopment = true
            $0.publishKeys = [key]
        }
        let page = String(buffer: try await server.request(.GET, "/console", key: nil).body)
        #expect(!page.contains("</script><script>alert"))
        let line = try #require(page.split(separator: "\n").first { $0.hasPrefix("const publishKey = ") })
        let literal = line.dropFirst("const publishKey = ".count).dropLast()
        #expect(!literal.contains("<") && !literal.contains(">") && !literal.contains("&"))
        #expect(JSON.parse(String(literal)) == .string(key), "the literal still reads back as the key")
        try await server.stop()
    }

    /// The DOM of `url` after Chromium ran it headless for at most 10 s of page time.
    static func headlessDOM(of url: String) async throws -> String {
        guard
            let browser = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].first(
                where: FileManager.default.isExecutableFile
            )
        else { throw TestFailure("the console test needs Chromium: apt-get install chromium (.ci/run does)") }
        let profile = FileManager.default.temporaryDirectory.appending(path: "herald-chromium-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: profile) }
        let arguments = [
            "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--user-data-dir=\(profile.path)",
            "--virtual-time-budget=10000", "--dump-dom", url,
        ]
        return try await runToEnd(browser, arguments).output
    }
}
