import HeraldClient
import HeraldCore
import HeraldServer
import Testing

@Suite struct ShutdownTests {
    @Test func gracefulShutdownClosesClientsWithGoingAway() async throws {
        let server = try await TestServer.start()
        let sockets = [try await server.subscriber(to: ["a"]), try await server.connect(user: "other")]
        try await server.stop()
        for socket in sockets { #expect(try await socket.closeCode() == 1001) }
        #expect(server.application.hub.connections == 0)
    }
}
