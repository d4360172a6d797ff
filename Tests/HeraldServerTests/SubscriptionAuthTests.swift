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
        // A refresh with other entities applies to later subscriptions (and ends the ones it no longer allows).
        socket.send(#"{"action":"refresh","token":"\#(try await server.token(user: "alice", entities: ["user-43"]))"}"#)
        #expect(try await socket.json() == .object(["type": "unsubscribed", "entityId": "order-7", "reason": "forbidden"]))
        #expect(try await socket.json() == .object(["type": "unsubscribed", "entityId": "user-42", "reason": "forbidden"]))
        #expect(try await socket.json()["type"] == "refreshed")
        #expect(try await subscribe(socket, ["user-43", "order-8"]) == ["ok", "forbidden"])
        // A token without the claim may subscribe to nothing.
        let bare = try await server.connect(user: "bob")
        #expect(try await subscribe(bare, ["order-7"]) == ["forbidden"])
        try await server.stop()
    }

    /// A refresh whose token narrows the claim ends the subscriptions it no longer allows: each
    /// gets an `unsubscribed` frame with `reason` `forbidden` before the `refreshed` reply, its
    /// pushes stop, and subscribing to it again is refused, not acked.
    @Test func refreshThatNarrowsTheClaimEndsSubscriptionsItNoLongerAllows() async throws {
        let server = try await TestServer.start { $0.tokens.entitiesClaim = "entities" }
        let socket = try await HeraldSocket.connect(
            url: server.wsURL + "?access_token=" + (try await server.token(user: "alice", entities: ["a", "b"]))
        )
        #expect(try await subscribe(socket, ["a", "b"]) == ["ok", "ok"])
        let narrower = try await server.token(user: "alice", ttl: .seconds(7200), entities: ["a"])
        socket.send(#"{"action":"refresh","token":"\#(narrower)","requestId":7}"#)
        #expect(try await socket.json() == .object(["type": "unsubscribed", "entityId": "b", "reason": "forbidden"]))
        let refreshed = try await socket.json()
        #expect(refreshed["type"] == "refreshed" && refreshed["requestId"] == .int(7))
        // b's pushes stop; a's go on.
        _ = try await server.publishEntity("b", message: "revoked")
        _ = try await server.publishEntity("a", message: "still allowed")
        let next = try await socket.json()
        #expect(next["entityId"] == "a" && next["message"] == "still allowed", "unexpected frame \(next)")
        // Subscribing again: a is acked (still allowed), b refused.
        socket.send(#"{"action":"subscribe","entityIds":["a","b"],"requestId":8}"#)
        let again = try await socket.json()
        #expect(again["type"] == "subscribed" && again["entityId"] == "a" && again["requestId"] == .int(8))
        #expect(
            try await socket.json()
                == .object(["type": "error", "code": "forbidden", "message": "this token does not allow subscribing to b", "requestId": .int(8)])
        )
        try await socket.expectNothingPending()
        guard case .array(let connections)? = try await server.get("/admin/connections?userId=alice").1?["connections"] else {
            throw TestFailure("alice's connection is not listed")
        }
        #expect(connections.map { $0["subscriptions"] } == [.int(1)])
        try await server.stop()
    }
}
