import Foundation
import HeraldClient
import HeraldCore
import HeraldServer
import NIOCore
import NIOHTTP1
import Testing

/// `GET /admin/connections`, `DELETE /admin/connections/{id}` and `GET /admin/stats` on a live server.
@Suite struct AdminAPITests {
    @Test func listsTheConnectionsOfAUserWithTheirFigures() async throws {
        let server = try await TestServer.start()
        let first = try await server.subscriber(user: "ada", to: ["order-1", "order-2"])
        let second = try await server.connect(user: "ada")
        let other = try await server.connect(user: "bob")
        let before = Date()

        let (status, body) = try await server.get("/admin/connections?userId=ada")
        #expect(status == 200)
        guard case .array(let listed)? = body?["connections"] else { throw TestFailure("no list: \(String(describing: body))") }
        #expect(listed.count == 2)
        #expect(listed.map { $0["userId"] } == [.string("ada"), .string("ada")])
        #expect(listed.map { $0["sourceIp"] } == [.string("127.0.0.1"), .string("127.0.0.1")])
        // Oldest first: the subscriber, with its two subscriptions, then the bare connection.
        #expect(listed.map { $0["subscriptions"] } == [.int(2), .int(0)])
        let ids = listed.compactMap { $0["connectionId"]?.stringValue }
        #expect(Set(ids).count == 2)
        for entry in listed {
            let connectedAt = try #require(entry["connectedAt"]?.stringValue.flatMap { try? Date($0, strategy: .iso8601) })
            #expect(abs(connectedAt.timeIntervalSince(before)) < 30)
        }
        #expect(body?["truncated"] == nil)

        let (_, everyone) = try await server.get("/admin/connections")
        #expect(everyone?["connections"]?.arrayCount == 3)
        let (_, limited) = try await server.get("/admin/connections?limit=1")
        #expect(limited?["connections"]?.arrayCount == 1)
        #expect(limited?["truncated"] == .bool(true))
        let (_, nobody) = try await server.get("/admin/connections?userId=nobody")
        #expect(nobody?["connections"] == .array([]))
        _ = (first, second, other)
        try await server.stop()
    }

    @Test func badQueriesAndMissingKeysAreRefused() async throws {
        let server = try await TestServer.start()
        for query in ["limit=0", "limit=abc", "limit=100001"] {
            let (status, body) = try await server.get("/admin/connections?\(query)")
            #expect(status == 400, "\(query)")
            #expect(body?["reason"] == "invalid_query")
        }
        for path in ["/admin/connections", "/admin/stats"] {
            #expect(try await server.get(path, key: nil).0 == 401)
            #expect(try await server.get(path, key: "wrong").0 == 401)
        }
        #expect(try await server.request(.DELETE, "/admin/connections/1", key: nil).status == 401)
        try await server.stop()
    }

    @Test func deletingAConnectionClosesItWith4003() async throws {
        let server = try await TestServer.start()
        let socket = try await server.subscriber(user: "carol", to: ["e"])
        let bystander = try await server.subscriber(user: "dave", to: ["e"])
        let id = try await server.connectionID(of: "carol")

        #expect(try await server.request(.DELETE, "/admin/connections/\(id)").status == 204)
        #expect(try await socket.closeCode() == 4003)
        try await waitUntil("the connection is gone") { server.application.hub.connections == 1 }
        let again = try await server.request(.DELETE, "/admin/connections/\(id)")
        #expect(again.status == 404)
        #expect(JSON.parse(again.body.readableBytesView)?["reason"] == "not_found")
        #expect(try await server.request(.DELETE, "/admin/connections/not-an-id").status == 404)
        // Everyone else is untouched.
        _ = try await server.publishEntity("e", message: "still here")
        #expect(try await bystander.json()["message"] == "still here")
        try await server.stop()
    }

    @Test func statsCountConnectionsSubscriptionsAndEntities() async throws {
        let server = try await TestServer.start()
        let a = try await server.subscriber(user: "a", to: ["x", "y"])
        let b = try await server.subscriber(user: "b", to: ["y"])
        let (status, body) = try await server.get("/admin/stats")
        #expect(status == 200)
        #expect(body?["connections"] == .int(2))
        #expect(body?["subscriptions"] == .int(3))
        #expect(body?["entities"] == .int(2))
        #expect(body?["slowConsumerDisconnects"] == .int(0))
        _ = (a, b)
        try await server.stop()
    }
}

extension JSONValue {
    /// The element count of an array value.
    var arrayCount: Int? {
        if case .array(let elements) = self { return elements.count }
        return nil
    }
}
