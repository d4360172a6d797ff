import HeraldClient
import HeraldCore
import HeraldServer
import HeraldTokens
import Testing

/// `--subscription-auth claims`: the token's `entities` claim decides what a connection may subscribe to.
@Suite struct SubscriptionAuthTests {
    private func subscribe(_ socket: HeraldSocket, _ entities: [String]) async throws -> [String] {
        socket.send(#"{"action":"subscribe","entityIds":[\#(entities.map { "\"\($0)\"" }.joined(separator: ","))]}"#)
        var answers: [String] = []
        for _ in entities {
            let reply = try await socket.json()
            answers.append(reply["type"] == "subscribed" ? "ok" : reply["code"]?.stringValue ?? "?")
        }
        return answers
    }

    @Test func onlyEntitiesTheTokenAllowsCanBeSubscribed() async throws {
        let server = try await TestServer.start { $0.tokens.entitiesClaim = "entities" }
        let token = try await server.token(user: "alice", entities: ["order-*", "user-42"])
        let socket = try await HeraldSocket.connect(url: server.wsURL + "?access_token=" + token)
        #expect(try await subscribe(socket, ["order-7", "user-42", "user-43", "orders"]) == ["ok", "ok", "forbidden", "forbidden"])
        // Refused subscriptions receive nothing.
        _ = try await server.publishEntity("user-43", message: "not for alice")
        _ = try await server.publishEntity("order-7", message: "for alice")
        #expect(try await socket.json()["message"] == "for alice")
        // A refresh with other entities applies to later subscriptions.
        socket.send(#"{"action":"refresh","token":"\#(try await server.token(user: "alice", entities: ["user-43"]))"}"#)
        #expect(try await socket.json()["type"] == "refreshed")
        #expect(try await subscribe(socket, ["user-43", "order-8"]) == ["ok", "forbidden"])
        // A token without the claim may subscribe to nothing.
        let bare = try await server.connect(user: "bob")
        #expect(try await subscribe(bare, ["order-7"]) == ["forbidden"])
        try await server.stop()
    }
}
