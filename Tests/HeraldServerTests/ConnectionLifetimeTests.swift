import Foundation
import HeraldClient
import HeraldCore
import HeraldServer
import HeraldTokens
import Testing

/// When the server ends a connection on its own: token expiry (4001), maximum lifetime (4002),
/// and a peer that answers nothing (1001 after the idle timeout).
@Suite struct ConnectionLifetimeTests {
    private func closed(_ socket: HeraldSocket, timeout: Duration = .seconds(8)) async throws -> (UInt16?, String?) {
        while true {
            switch await socket.next(timeout: timeout) {
            case .closed(let code, let reason)?: return (code, reason)
            case nil: throw TestFailure("the connection did not close in time")
            default: continue
            }
        }
    }

    @Test func aConnectionIsClosedWith4001WhenItsTokenExpires() async throws {
        let server = try await TestServer.start { $0.tokens.leeway = .zero }
        let socket = try await HeraldSocket.connect(url: server.wsURL + "?access_token=" + server.token(ttl: .seconds(3)))
        try await socket.expectNothingPending()  // open until then
        let (code, reason) = try await closed(socket)
        #expect(code == 4001)
        #expect(reason?.contains("expired") == true)
        try await waitUntil("the connection is removed") { server.application.hub.connections == 0 }
        try await server.stop()
    }

    @Test func refreshMovesTheExpiry() async throws {
        let server = try await TestServer.start { $0.tokens.leeway = .zero }
        // 4 s (3–4 s left, as exp is whole seconds): room for the refresh to arrive first on a loaded machine.
        let shortToken = try await server.token(ttl: .seconds(4))
        let refreshed = try await HeraldSocket.connect(url: server.wsURL + "?access_token=" + shortToken)
        let unrefreshed = try await HeraldSocket.connect(url: server.wsURL + "?access_token=" + shortToken)
        refreshed.send(#"{"action":"refresh","token":"\#(try await server.token(ttl: .seconds(3600)))"}"#)
        #expect(try await refreshed.json()["type"] == "refreshed")
        // Once the old token's expiry has closed the other connection, the refreshed one is still open.
        #expect(try await closed(unrefreshed).0 == 4001)
        try await refreshed.expectNothingPending()
        // The expired connection leaves the hub once its close handshake ends (the client's answer, or the close timeout).
        try await waitUntil("only the refreshed connection is left") { server.application.hub.connections == 1 }
        try await server.stop()
    }

    @Test func aConnectionIsClosedWith4002AtItsMaximumLifetime() async throws {
        // 3 s: room for the subscribe and its ack first, on a loaded machine.
        let server = try await TestServer.start { $0.limits.maxConnectionLifetime = .seconds(3) }
        let socket = try await server.subscriber(to: ["order-7"])
        let (code, reason) = try await closed(socket)
        #expect(code == 4002)
        #expect(reason == "lifetime reached")
        try await waitUntil("the subscription is freed") { server.application.hub.subscriptions == 0 }
        try await server.stop()
    }

    @Test func aPeerThatAnswersNothingIsClosedAndForgotten() async throws {
        let server = try await TestServer.start {
            $0.limits.pingInterval = .milliseconds(250)
            $0.limits.idleTimeout = .milliseconds(1500)
            $0.limits.closeTimeout = .milliseconds(200)
        }
        let hub = server.application.hub
        // Answers pings (the client library replies with pongs): stays.
        let alive = try await server.subscriber(user: "alive", to: ["order-7"])
        // Never reads nor writes after subscribing: no pongs.
        let silent = try await StalledClient.connect(port: server.port, token: try await server.token(user: "silent"), subscribeTo: "order-7")
        try await waitUntil("both subscribed") { hub.subscriptions == 2 }
        try await waitUntil("the silent peer is closed") { hub.connections < 2 }
        #expect(hub.connections == 1)
        #expect(hub.subscriptions == 1)
        try await alive.expectNothingPending()  // still open, having answered the pings
        try await silent.close()
        try await server.stop()
    }
}
