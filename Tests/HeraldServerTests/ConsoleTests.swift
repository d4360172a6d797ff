import Foundation
import HeraldClient
import HeraldCore
@testable import HeraldServer
@testable import HeraldTokens
import NIOCore
import NIOHTTP1
import Testing

/// The development console (SPEC §10), run in a real headless browser (Debian's Chromium).
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

    /// The DOM of `url` after Chromium ran it headless for at most 10 s of page time.
    static func headlessDOM(of url: String) async throws -> String {
        guard let browser = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].first(where: FileManager.default.isExecutableFile)
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
