import Foundation
import HeraldClient
import HeraldCore
import HeraldServer
import Testing

/// One message cannot multiply the authorisation hook's work: a list longer than the limit is
/// refused whole, a connection asks only for the room it has, a full one asks nothing, answers
/// are remembered, and calls in flight are bounded per connection and per node.
@Suite struct HookBoundsTests {
    private func start(hook application: HookServer, maxSubscriptions: Int = 10, concurrency: Int = 8) async throws -> TestServer {
        try await TestServer.start {
            $0.limits.maxSubscriptions = maxSubscriptions
            $0.limits.maxMessagesPerSecond = 0
            var hook = HeraldConfiguration.SubscriptionHook(url: application.url)
            hook.timeout = .seconds(5)
            hook.concurrency = concurrency
            $0.subscriptionHook = hook
        }
    }

    private func subscribe(_ socket: HeraldSocket, _ ids: [String], requestID: String = "r") async throws -> [String] {
        socket.send(#"{"action":"subscribe","entityIds":[\#(ids.map { "\"\($0)\"" }.joined(separator: ","))],"requestId":"\#(requestID)"}"#)
        var answers: [String] = []
        for _ in ids {
            let reply = try await socket.json(timeout: .seconds(20))  // calls may wait their turn on a loaded machine
            #expect(reply["requestId"] == .string(requestID))
            answers.append(reply["type"] == "subscribed" ? "ok" : reply["code"]?.stringValue ?? "?")
        }
        return answers
    }

    /// Today 3,000 ids made 3,000 calls and 3,000 replies.
    @Test func aListLongerThanTheLimitIsOneErrorAndNoCall() async throws {
        let hook = try await HookServer.start()
        let server = try await start(hook: hook)
        let socket = try await server.connect()
        let ids = (0..<3_000).map { "ok-\($0)" }
        socket.send(#"{"action":"subscribe","entityIds":[\#(ids.map { "\"\($0)\"" }.joined(separator: ","))],"requestId":1}"#)
        #expect(
            try await socket.json()
                == .object([
                    "type": "error", "code": "invalid_message", "requestId": .int(1),
                    "message": "entityIds lists 3000 ids; at most 10 per message (the subscription limit)",
                ])
        )
        socket.send(#"{"action":"ping"}"#)
        #expect(try await socket.json()["type"] == "pong")
        #expect(hook.calls == 0)
        try await server.stop()
        try await hook.stop()
    }

    /// Today a connection at its limit asked the hook about every id of every message.
    @Test func theHookIsAskedOnlyForTheRoomThereIs() async throws {
        let hook = try await HookServer.start()
        let server = try await start(hook: hook)
        let socket = try await server.connect()
        #expect(try await subscribe(socket, (0..<7).map { "ok-\($0)" }) == Array(repeating: "ok", count: 7))
        #expect(hook.calls == 7)
        // Room for 3 of 9 new ids: 3 calls; the already subscribed ok-0 is acked without one.
        let next = ["ok-0"] + (7..<16).map { "ok-\($0)" }
        #expect(try await subscribe(socket, next) == Array(repeating: "ok", count: 4) + Array(repeating: "subscription_limit", count: 6))
        #expect(hook.calls == 10)
        // Full: six messages of ten new ids each, and not one call.
        for round in 0..<6 {
            let ids = (0..<10).map { "ok-x\(round)-\($0)" }
            #expect(try await subscribe(socket, ids) == Array(repeating: "subscription_limit", count: 10))
        }
        #expect(hook.calls == 10)
        try await server.stop()
        try await hook.stop()
    }

    @Test func repeatedMessagesAreAnsweredFromWhatTheConnectionRemembers() async throws {
        let hook = try await HookServer.start()
        let server = try await start(hook: hook)
        let socket = try await server.connect()
        for _ in 0..<5 {
            #expect(try await subscribe(socket, ["no-1", "no-2", "ok-1", "no-1"]) == ["forbidden", "forbidden", "ok", "forbidden"])
            socket.send(#"{"action":"unsubscribe","entityId":"ok-1"}"#)
            #expect(try await socket.json()["type"] == "unsubscribed")
        }
        #expect(hook.calls == 3)
        try await server.stop()
        try await hook.stop()
    }

    /// Calls in flight: at most 4 for one connection, at most `--auth-hook-concurrency` for the
    /// node, the others waiting their turn — and every subscribe still answered.
    @Test func callsInFlightAreBoundedPerConnectionAndPerNode() async throws {
        let hook = try await HookServer.start()
        let server = try await start(hook: hook, concurrency: 64)
        let one = try await server.connect()
        #expect(try await subscribe(one, (0..<10).map { "wait-\($0)" }) == Array(repeating: "ok", count: 10))
        #expect(hook.calls == 10 && hook.mostInFlight == 4)
        try await server.stop()

        hook.reset()
        let narrow = try await start(hook: hook, concurrency: 2)
        let sockets = try await (0..<5).asyncMap { index in try await narrow.connect(user: "user-\(index)") }
        try await withThrowingTaskGroup(of: [String].self) { group in
            for (index, socket) in sockets.enumerated() {
                group.addTask { try await self.subscribe(socket, (0..<4).map { "wait-\(index)-\($0)" }) }
            }
            for try await answers in group { #expect(answers == Array(repeating: "ok", count: 4)) }
        }
        #expect(hook.calls == 20 && hook.mostInFlight == 2)
        try await narrow.stop()
        try await hook.stop()
    }
}

extension Sequence {
    /// `map` with an async transform, one element at a time.
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
