import HeraldClient
import HeraldCore
import HeraldServer
import NIOCore
import NIOHTTP1
import Testing

/// `GET /metrics` on a live server: the OPERATIONS.md §2 series move as clients connect, subscribe,
/// receive and disconnect, and no user id, entity id or token ever appears.
@Suite struct MetricsTests {
    @Test func seriesFollowConnectionsPublishesAndCloses() async throws {
        let server = try await TestServer.start()
        let start = try await server.metrics()
        #expect(start["herald_connections"] == 0)
        #expect(start[#"herald_events_published_total{type="entity_updated"}"#] == 0)
        #expect(start[#"herald_auth_failures_total{reason="token_invalid"}"#] == 0)

        let ada = try await server.subscriber(user: "secret-user-ada", to: ["secret-entity-1", "secret-entity-2"])
        let bob = try await server.subscriber(user: "secret-user-bob", to: ["secret-entity-1"])
        var now = try await server.metrics()
        #expect(now["herald_connections"] == 2)
        #expect(now["herald_subscriptions"] == 3)
        #expect(now["herald_entities"] == 2)

        _ = try await server.publishEntity("secret-entity-1", message: "one")
        _ = try await server.publishEntity("secret-entity-2", message: "two")
        _ = try await server.publishEntity("nobody-listens", message: "three")
        #expect(try await server.publish("/users/secret-user-ada/notifications", #"{"message":"hi"}"#).status == 202)
        for expected in ["one", "two", "hi"] { #expect(try await ada.json()["message"] == .string(expected)) }
        #expect(try await bob.json()["message"] == "one")
        now = try await server.metrics()
        #expect(now[#"herald_events_published_total{type="entity_updated"}"#] == 3)
        #expect(now[#"herald_events_published_total{type="user_notification"}"#] == 1)
        #expect(now["herald_deliveries_total"] == 4)  // 2 + 1 + 0 + 1
        #expect(now["herald_publish_duration_seconds_count"] == 4)
        #expect(now["herald_fanout_duration_seconds_count"] == 4)
        #expect((now["herald_publish_duration_seconds_sum"] ?? 0) > 0)

        // Refused credentials, by reason.
        #expect(try await server.upgradeAttempt(query: "?access_token=garbage").0 == 401)
        #expect(try await server.upgradeAttempt().0 == 401)
        #expect(try await server.publish("/events", "[]", key: "wrong").status == 401)
        now = try await server.metrics()
        #expect(now[#"herald_auth_failures_total{reason="token_invalid"}"#] == 1)
        #expect(now[#"herald_auth_failures_total{reason="token_missing"}"#] == 1)
        #expect(now[#"herald_auth_failures_total{reason="unauthorized"}"#] == 1)

        // Closes, by code: the client's 1000, an admin's 4003.
        ada.close()
        #expect(try await ada.closeCode() == 1000)
        let id = try await server.connectionID(of: "secret-user-bob")
        #expect(try await server.request(.DELETE, "/admin/connections/\(id)").status == 204)
        #expect(try await bob.closeCode() == 4003)
        try await waitUntil("both closes are counted") { server.application.hub.connections == 0 }
        now = try await server.metrics()
        #expect(now[#"herald_closes_total{code="1000"}"#] == 1)
        #expect(now[#"herald_closes_total{code="4003"}"#] == 1)
        #expect(now["herald_connections"] == 0)
        #expect(now["herald_subscriptions"] == 0)
        #expect(now["herald_entities"] == 0)

        let text = String(buffer: try await server.request(.GET, "/metrics", key: nil).body)
        #expect(!text.contains("secret-"), "a user or entity id leaked into a label")
        #expect(!text.contains(TestServer.publishKey))
        try await server.stop()
    }

    @Test func everySeriesOfTheSpecIsExposedAndNeedsNoKey() async throws {
        let server = try await TestServer.start()
        let response = try await server.request(.GET, "/metrics", key: nil)
        #expect(response.status == 200)
        #expect(response.headers["Content-Type"].first?.hasPrefix("text/plain") == true)
        let text = String(buffer: response.body)
        for name in [
            "herald_connections", "herald_subscriptions", "herald_entities", "herald_events_published_total",
            "herald_deliveries_total", "herald_dropped_pushes_total", "herald_slow_consumer_disconnects_total",
            "herald_auth_failures_total", "herald_closes_total", "herald_publish_duration_seconds", "herald_fanout_duration_seconds",
        ] {
            #expect(text.contains("# TYPE \(name) "), "\(name) missing")
        }
        try await server.stop()
    }
}
