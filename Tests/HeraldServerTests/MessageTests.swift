import HeraldClient
import HeraldCore
import HeraldServer
import Testing

@Suite struct MessageTests {
    @Test func acknowledgementsEchoTheRequestID() async throws {
        let server = try await TestServer.start()
        let socket = try await server.connect()
        socket.send(#"{"action":"subscribe","entityIds":["a","b"],"requestId":"r1"}"#)
        // Each entity's stream has its own epoch.
        let (ackA, ackB) = (try await socket.json(), try await socket.json())
        let epochA = try #require(ackA["epoch"]?.stringValue)
        let epochB = try #require(ackB["epoch"]?.stringValue)
        #expect(ackA == .object(["type": "subscribed", "entityId": "a", "recovered": .bool(true), "epoch": .string(epochA), "requestId": "r1"]))
        #expect(ackB == .object(["type": "subscribed", "entityId": "b", "recovered": .bool(true), "epoch": .string(epochB), "requestId": "r1"]))
        #expect(epochA != epochB)
        socket.send(#"{"action":"subscribe","entityId":"a","requestId":2}"#)  // idempotent: acked again, same stream
        let again = try await socket.json()
        #expect(again["requestId"] == .int(2) && again["epoch"] == .string(epochA))
        socket.send(#"{"action":"unsubscribe","entityId":"never-subscribed"}"#)
        #expect(try await socket.json() == .object(["type": "unsubscribed", "entityId": "never-subscribed"]))
        socket.send(#"{"action":"subscribe","entityId":"c","since":3}"#)
        #expect(try await socket.json()["recovered"] == .bool(false))
        try await server.stop()
    }

    @Test func errorFramesKeepTheConnectionOpen() async throws {
        let server = try await TestServer.start { $0.limits.maxSubscriptions = 2 }
        let socket = try await server.connect()
        let cases: [(String, String)] = [
            ("not json", "invalid_json"),
            ("[1]", "invalid_json"),
            (#"{"entityId":"a"}"#, "unknown_action"),
            (#"{"action":"explode"}"#, "unknown_action"),
            (#"{"action":"subscribe","entityId":"a","since":"abc"}"#, "invalid_message"),
            (#"{"action":"subscribe","entityId":""}"#, "invalid_entity_id"),
            (#"{"action":"subscribe","entityId":"\#(String(repeating: "x", count: 257))"}"#, "invalid_entity_id"),
            (#"{"action":"refresh","token":"garbage"}"#, "token_invalid"),
        ]
        for (index, (text, code)) in cases.enumerated() {
            socket.send(text.hasSuffix("}") ? text.dropLast() + #","requestId":\#(index)}"# : text)
            let error = try await socket.json()
            #expect(error["type"] == "error")
            #expect(error["code"] == .string(code), "\(text)")
            #expect(error["message"]?.stringValue?.isEmpty == false)
            if text.hasPrefix("{") { #expect(error["requestId"] == .int(index), "\(text)") }
        }
        socket.sendBinary([1, 2, 3])
        #expect(try await socket.json()["code"] == "unsupported_frame")
        socket.send(#"{"action":"subscribe","entityId":"a"}"#)
        #expect(try await socket.json()["type"] == "subscribed")
        socket.send(#"{"action":"subscribe","entityIds":["b","c"]}"#)
        #expect(try await socket.json()["type"] == "subscribed")
        #expect(try await socket.json()["code"] == "subscription_limit")
        // A list longer than the limit itself: one error for the whole message.
        socket.send(#"{"action":"subscribe","entityIds":["x","y","z"]}"#)
        #expect(try await socket.json()["code"] == "invalid_message")
        try await socket.expectNothingPending()
        try await server.stop()
    }

    @Test func refreshWithTheSameUserAndAnotherUser() async throws {
        let server = try await TestServer.start()
        let socket = try await server.connect(user: "alice")
        socket.send(#"{"action":"refresh","token":"\#(try await server.token(user: "alice"))","requestId":1}"#)
        let refreshed = try await socket.json()
        #expect(refreshed["type"] == "refreshed")
        #expect(refreshed["expiresAt"].flatMap { if case .int(let v) = $0 { v } else { nil } } ?? 0 > 0)
        socket.send(#"{"action":"refresh","token":"\#(try await server.token(user: "mallory"))","requestId":2}"#)
        #expect(try await socket.json()["code"] == "forbidden")
        // Still alice: her notifications arrive.
        _ = try await server.publish("/users/alice/notifications", #"{"message":"still you"}"#)
        #expect(try await socket.json()["message"] == "still you")
        try await server.stop()
    }

    @Test func messageSizeLimitIsInclusiveThenCloses1009() async throws {
        let server = try await TestServer.start()
        let socket = try await server.connect()
        let padding = { (total: Int) in
            let prefix = #"{"action":"ping","requestId":1,"pad":""#
            return prefix + String(repeating: "x", count: total - prefix.utf8.count - 2) + #""}"#
        }
        socket.send(padding(32_768))
        #expect(try await socket.json()["type"] == "pong")
        socket.send(padding(32_769))
        #expect(try await socket.closeCode() == 1009)
        // The server keeps serving everyone else.
        let other = try await server.connect()
        try await other.expectNothingPending()
        try await server.stop()
    }
}
