import AsyncHTTPClient
import HeraldClient
import HeraldCore
import NIOHTTP1
import Testing

@testable import HeraldServer

@Suite struct PublishTests {
    @Test func keysWhoseLengthsDifferByAMultipleOf256AreNotEqual() {
        let key = Array("publish-key".utf8)
        #expect(!PublishAPI.constantTimeEquals(key, key + [UInt8](repeating: 0, count: 256)))
        #expect(!PublishAPI.constantTimeEquals(key + [UInt8](repeating: 0, count: 512), key))
        #expect(!PublishAPI.constantTimeEquals([], [UInt8](repeating: 0, count: 256)))
        #expect(PublishAPI.constantTimeEquals(key, key))
        #expect(!PublishAPI.constantTimeEquals(key, Array("publish-kez".utf8)))
    }

    @Test func everySeedShapeIsAcceptedWithPerEntryResults() async throws {
        let server = try await TestServer.start()
        let socket = try await server.subscriber(to: ["order-7"])
        let bodies = [
            #"{"detail-type":"Entity Updated","detail":{"entityId":"order-7","message":"one"}}"#,
            #"[{"detail-type":"Entity Updated","detail":{"entityId":"order-7","message":"two"}}]"#,
            #"{"Entries":[{"Source":"svc","DetailType":"Entity Updated","Detail":"{\"entityId\":\"order-7\",\"message\":\"three\"}"}]}"#,
            #"[{"Source":"svc","DetailType":"Entity Updated","Detail":"{\"entityId\":\"order-7\",\"message\":\"four\"}","EventBusName":"default"}]"#,
        ]
        for (index, body) in bodies.enumerated() {
            let answer = try await server.publish("/events", body)
            #expect(answer.status == 200)
            let json = try #require(JSON.parse(answer.body))
            #expect(json["failedEntryCount"] == .int(0))
            guard case .array(let entries)? = json["entries"] else {
                Issue.record("no entries")
                continue
            }
            #expect(entries.first?["seq"] == .int(index + 1))
            #expect(entries.first?["eventId"]?.stringValue?.count == 36)
        }
        for message in ["one", "two", "three", "four"] { #expect(try await socket.json()["message"] == .string(message)) }
        try await server.stop()
    }

    @Test func oneBadEntryDoesNotSinkTheOthers() async throws {
        let server = try await TestServer.start()
        let answer = try await server.publish(
            "/events",
            #"[{"DetailType":"Entity Updated","Detail":"{\"entityId\":\"a\"}"},{"DetailType":"Nope","Detail":"{}"},"#
                + #"{"DetailType":"Send User Push Notification","Detail":"{\"userId\":\"u\",\"message\":\"m\"}"},{"DetailType":"Entity Updated","Detail":"{}"}]"#
        )
        #expect(answer.status == 200)
        let json = try #require(JSON.parse(answer.body))
        #expect(json["failedEntryCount"] == .int(2))
        guard case .array(let entries)? = json["entries"] else { throw TestFailure("no entries") }
        #expect(entries.count == 4)
        #expect(entries[0]["seq"] == .int(1))
        #expect(entries[1]["errorCode"] == "unknown_detail_type")
        #expect(entries[2]["eventId"] != nil && entries[2]["seq"] == nil)
        #expect(entries[3]["errorCode"] == "invalid_detail")
        #expect(entries[3]["errorMessage"]?.stringValue?.isEmpty == false)
        try await server.stop()
    }

    @Test func malformedBodiesAreBadRequests() async throws {
        let server = try await TestServer.start()
        for body in ["not json", "{}", "[]", "[1]", "42"] {
            let answer = try await server.publish("/events", body)
            #expect(answer.status == 400, "\(body)")
            #expect(JSON.parse(answer.body)?["reason"] == "invalid_body")
        }
        #expect(try await server.publish("/entities/a/updates", #"{"data":{}}"#).status == 400)
        #expect(try await server.publish("/users/u/notifications", #"{"callback":"x"}"#).status == 400)
        try await server.stop()
    }

    @Test func publishKeyIsRequiredAndTheSchemeIsCaseInsensitive() async throws {
        let server = try await TestServer.start()
        for key in [nil, "wrong", TestServer.publishKey + "x"] {
            let answer = try await server.publish("/events", "{}", key: key)
            #expect(answer.status == 401)
            #expect(JSON.parse(answer.body)?["reason"] == "unauthorized")
            #expect(!answer.body.contains(TestServer.publishKey))
        }
        var request = HTTPClientRequestForTests.post(server.httpURL + "/entities/a/updates", body: #"{"message":"m"}"#)
        request.headers.add(name: "Authorization", value: "bEaReR \(TestServer.publishKey)")
        #expect(try await HTTPClientRequestForTests.status(request) == 202)
        try await server.stop()
    }

    /// Two keys at once (rotation without downtime), every key compared in full, and a request
    /// without a valid key refused before its body is read: the 401 arrives though no body was sent.
    @Test func severalPublishKeysAndNoBodyReadWithoutOne() async throws {
        let server = try await TestServer.start { $0.publishKeys = ["old-key-0123456789", "new-key-0123456789"] }
        for key in ["old-key-0123456789", "new-key-0123456789"] {
            #expect(try await server.publish("/entities/a/updates", #"{"message":"m"}"#, key: key).status == 202)
        }
        for key in ["old-key-012345678", "new-key-01234567890", "", "old-key-0123456789x"] {
            #expect(try await server.publish("/entities/a/updates", #"{"message":"m"}"#, key: key).status == 401)
        }
        let head = [
            "POST /events HTTP/1.1", "Host: x", "Authorization: Bearer wrong", "Content-Type: application/json",
            "Content-Length: 10000000", "", "",
        ].joined(separator: "\r\n")
        let answer = try await withThrowingTaskGroup(of: String.self) { group in
            group.addTask { try await RawHTTP.exchange(port: server.port, request: head) }
            group.addTask {
                try await Task.sleep(for: .seconds(5))
                return "no answer within 5 s"
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
        #expect(answer.hasPrefix("HTTP/1.1 401"), "\(answer)")
        #expect(PublishAPI.constantTimeEquals(Array("abc".utf8), Array("abc".utf8)))
        #expect(!PublishAPI.constantTimeEquals(Array("abc".utf8), Array("abcd".utf8)))
        #expect(!PublishAPI.constantTimeEquals(Array("abd".utf8), Array("abc".utf8)))
        try await server.stop()
    }

    @Test func bodyLimitIs262144BytesInclusive() async throws {
        let server = try await TestServer.start()
        let prefix = #"{"detail-type":"Entity Updated","detail":{"entityId":"a","message":""#
        let suffix = #""}}"#
        let exact = prefix + String(repeating: "m", count: 262_144 - prefix.utf8.count - suffix.utf8.count) + suffix
        #expect(exact.utf8.count == 262_144)
        #expect(try await server.publish("/events", exact).status == 200)
        let over = try await server.publish("/events", exact + " ")
        #expect(over.status == 413)
        #expect(JSON.parse(over.body)?["reason"] == "payload_too_large")
        let huge = try await server.publish("/events", String(repeating: " ", count: 2_000_000) + exact)
        #expect(huge.status == 413)
        try await server.stop()
    }

    @Test func healthAndReady() async throws {
        let server = try await TestServer.start()
        #expect(try await HTTPClientRequestForTests.status(.init(url: server.httpURL + "/health")) == 200)
        #expect(try await HTTPClientRequestForTests.status(.init(url: server.httpURL + "/ready")) == 200)
        try await server.stop()
    }
}
