import Foundation
import HeraldClient
import HeraldCore
import HeraldServer
import NIOHTTP1
import Testing

/// Ids in URLs mean what they say: every route that takes an id in its path percent-decodes it
/// once (UTF-8; `+` is a plus), checks the decoded id with the protocol's rules, and uses it.
@Suite struct PathIDTests {
    /// Ids a client must encode in a path (a space, a slash, a percent sign), one it need not (`+`), and non-ASCII ones.
    static let ids: [(id: String, encoded: String)] = [
        ("a b", "a%20b"), ("a/b", "a%2Fb"), ("100%", "100%25"), ("a+b", "a+b"), ("café", "caf%C3%A9"), ("注文-7", "%E6%B3%A8%E6%96%87-7"),
        ("a%20b", "a%2520b"),  // decoded once only
    ]

    /// Malformed percent-encoding, each with what the error must say.
    static let malformed: [(encoded: String, problem: String)] = [
        ("a%zz", "percent"), ("a%4", "percent"), ("a%", "percent"), ("%C3", "UTF-8"), ("%FF", "UTF-8"), ("%C3%28", "UTF-8"),
    ]

    @Test func anEntityUpdateReachesTheSubscribersOfTheDecodedID() async throws {
        let server = try await TestServer.start()
        let socket = try await server.subscriber(to: Self.ids.map(\.id))
        for (id, encoded) in Self.ids {
            let answer = try await server.publish("/entities/\(encoded)/updates", #"{"message":"for \#(encoded)"}"#)
            #expect(answer.status == 202, "\(encoded): \(answer.body)")
            let push = try await socket.json()
            #expect(push["entityId"] == .string(id) && push["message"] == .string("for \(encoded)"))
        }
        try await socket.expectNothingPending()
        try await server.stop()
    }

    @Test func aUserNotificationReachesTheDecodedUser() async throws {
        let server = try await TestServer.start()
        for (id, encoded) in Self.ids {
            let socket = try await server.connect(user: id)
            // The connection joins the hub just after its 101 is written (NIO's upgrade order): wait for it.
            try await waitUntil("\(id) is connected") { server.application.hub.connections(of: UserID(id)!) == 1 }
            let answer = try await server.publish("/users/\(encoded)/notifications", #"{"message":"hello \#(encoded)"}"#)
            #expect(answer.status == 202, "\(encoded): \(answer.body)")
            let push = try await socket.json()
            #expect(push["type"] == "User Push Notification" && push["message"] == .string("hello \(encoded)"))
            socket.close(code: 1000)
        }
        try await server.stop()
    }

    @Test func connectionRoutesDecodeTheirID() async throws {
        let server = try await TestServer.start()
        let socket = try await server.connect(user: "ids")
        let id = try await server.connectionID(of: "ids")
        // The same id with every character percent-encoded: the connection it names.
        let encoded = id.utf8.map { String(format: "%%%02X", $0) }.joined()
        let posted = try await server.request(.POST, "/@connections/\(encoded)", body: Array("to \(id)".utf8))
        #expect(posted.status == 200)
        #expect(await socket.next() == .text("to \(id)"))
        #expect(try await server.get("/@connections/\(encoded)").0 == 200)
        // Ids that name no connection are unknown, not malformed.
        for (_, other) in Self.ids {
            #expect(try await server.get("/@connections/\(other)").0 == 410, "\(other)")
            #expect(try await server.request(.DELETE, "/admin/connections/\(other)").status == 404, "\(other)")
        }
        #expect(try await server.request(.DELETE, "/admin/connections/\(encoded)").status == 204)
        #expect(try await socket.closeCode() == 4003)
        try await server.stop()
    }

    @Test func malformedPercentEncodingIsABadRequestOnEveryIDRoute() async throws {
        let server = try await TestServer.start()
        let routes = [
            ("POST", "/entities/{}/updates"), ("POST", "/users/{}/notifications"), ("DELETE", "/admin/connections/{}"),
            ("POST", "/@connections/{}"), ("GET", "/@connections/{}"), ("DELETE", "/@connections/{}"),
        ]
        for (method, route) in routes {
            for (encoded, problem) in Self.malformed {
                let path = route.replacing("{}", with: encoded)
                let body = #"{"message":"m"}"#
                let head = try await RawHTTP.received(
                    port: server.port,
                    request:
                        "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(TestServer.publishKey)\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
                ) { $0.contains("\r\n\r\n") && $0.contains("}") }
                #expect(head.hasPrefix("HTTP/1.1 400"), "\(method) \(path): \(head)")
                let answer = try #require(head.range(of: "\r\n\r\n").map { JSON.parse(String(head[$0.upperBound...])) } ?? nil, "\(head)")
                #expect(answer["reason"] == "invalid_path", "\(method) \(path): \(answer)")
                #expect(answer["message"]?.stringValue?.contains(problem) == true, "\(method) \(path): \(answer)")
            }
        }
        try await server.stop()
    }

    @Test func decodedIDsAreCheckedWithTheProtocolsRules() async throws {
        let server = try await TestServer.start()
        let tooLong = String(repeating: "%C3%A9", count: 129)  // 258 bytes once decoded
        for encoded in ["%00", "a%0Ab", "%7F", tooLong] {
            let entity = try await server.publish("/entities/\(encoded)/updates", #"{"message":"m"}"#)
            #expect(entity.status == 400 && JSON.parse(entity.body)?["reason"] == "invalid_entity_id", "\(encoded): \(entity.body)")
            let user = try await server.publish("/users/\(encoded)/notifications", #"{"message":"m"}"#)
            #expect(user.status == 400 && JSON.parse(user.body)?["reason"] == "invalid_user_id", "\(encoded): \(user.body)")
        }
        try await server.stop()
    }
}
