import Foundation
import HeraldClient
import HeraldCore
import HeraldServer
import HeraldTokens
import Hummingbird
import NIOCore
import Synchronization
import Testing

/// `--subscription-auth hook`: the application decides, fails closed, is asked once per entity
/// per connection while its answer is fresh, and the connection's messages keep their order.
@Suite struct AuthorisationHookTests {
    private func answers(_ socket: HeraldSocket, count: Int) async throws -> [String] {
        var answers: [String] = []
        for _ in 0..<count {
            let reply = try await socket.json()
            answers.append(reply["type"] == "subscribed" ? "ok" : reply["code"]?.stringValue ?? reply["type"]?.stringValue ?? "?")
        }
        return answers
    }

    @Test func theHookDecidesAndNoAnswerIsARefusal() async throws {
        let application = try await HookServer.start()
        let server = try await TestServer.start {
            var hook = HeraldConfiguration.SubscriptionHook(url: application.url)
            hook.timeout = .milliseconds(1_500)  // generous for a loaded machine; slow-* answers after 4 s
            $0.subscriptionHook = hook
        }
        let socket = try await server.connect(user: "alice")
        socket.send(#"{"action":"subscribe","entityIds":["ok-1","no-1","slow-1","err-1"]}"#)
        socket.send(#"{"action":"ping"}"#)  // sent at once, answered after the subscribe
        #expect(try await answers(socket, count: 5) == ["ok", "forbidden", "forbidden", "forbidden", "pong"])
        #expect(application.questions.contains { $0.hasPrefix(#"{"userId":"alice","entityId":"ok-1","connectionId":"#) })
        _ = try await server.publishEntity("ok-1", message: "allowed")
        _ = try await server.publishEntity("no-1", message: "refused")
        #expect(try await socket.json()["message"] == "allowed")
        try await socket.expectNothingPending()

        // Asked once per entity while the answer is fresh.
        socket.send(#"{"action":"unsubscribe","entityId":"ok-1"}"#)
        socket.send(#"{"action":"subscribe","entityIds":["ok-1","no-1"]}"#)
        #expect(try await answers(socket, count: 3) == ["unsubscribed", "ok", "forbidden"])
        #expect(application.count(of: "ok-1") == 1 && application.count(of: "no-1") == 1)
        try await server.stop()
        try await application.stop()
    }

    @Test func claimsFirstThenTheHook() async throws {
        let application = try await HookServer.start()
        let server = try await TestServer.start {
            $0.tokens.entitiesClaim = "entities"
            $0.subscriptionHook = HeraldConfiguration.SubscriptionHook(url: application.url)
        }
        let token = try await server.token(user: "bob", entities: ["order-*"])
        let socket = try await HeraldSocket.connect(url: server.wsURL + "?access_token=" + token)
        socket.send(#"{"action":"subscribe","entityIds":["order-1","ok-2","no-2"]}"#)
        #expect(try await answers(socket, count: 3) == ["ok", "ok", "forbidden"])
        #expect(application.count(of: "order-1") == 0)
        try await server.stop()
        try await application.stop()
    }
}

/// The application's authorisation hook on 127.0.0.1: allows `ok-*`, refuses `no-*`, answers
/// `slow-*` after 4 s, `wait-*` (allowed) after 300 ms so that calls overlap, and `err-*` with 500;
/// remembers each question and how many were in flight at most.
final class HookServer: Sendable {
    private struct Figures {
        var asked: [String] = []
        var inFlight = 0
        var mostInFlight = 0
    }

    private let figures = Mutex(Figures())
    private let server: Mutex<LocalHTTPServer?> = Mutex(nil)

    var url: String { "http://127.0.0.1:\(server.withLock { $0 }?.port ?? 0)/authorise" }
    var questions: [String] { figures.withLock { $0.asked } }
    /// Calls so far.
    var calls: Int { figures.withLock { $0.asked.count } }
    /// The most calls that were in flight at once.
    var mostInFlight: Int { figures.withLock { $0.mostInFlight } }
    func count(of entity: String) -> Int { questions.count { $0.contains(#""entityId":"\#(entity)""#) } }
    func reset() { figures.withLock { $0 = Figures() } }

    static func start() async throws -> HookServer {
        let hook = HookServer()
        let router = Router()
        router.post("authorise") { request, _ in
            let body = try await request.body.collect(upTo: 4_096)
            hook.figures.withLock {
                $0.asked.append(String(buffer: body))
                $0.inFlight += 1
                $0.mostInFlight = max($0.mostInFlight, $0.inFlight)
            }
            defer { hook.figures.withLock { $0.inFlight -= 1 } }
            let entity = JSON.parse(body.readableBytesView)?["entityId"]?.stringValue ?? ""
            if entity.hasPrefix("slow-") { try await Task.sleep(for: .seconds(4)) }
            if entity.hasPrefix("wait-") { try await Task.sleep(for: .milliseconds(300)) }
            if entity.hasPrefix("err-") { return Response(status: .internalServerError) }
            let allow = entity.hasPrefix("ok-") || entity.hasPrefix("slow-") || entity.hasPrefix("wait-")
            return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: #"{"allow":\#(allow)}"#)))
        }
        let server = try await LocalHTTPServer.start(router)
        hook.server.withLock { $0 = server }
        return hook
    }

    func stop() async throws { try await server.withLock { $0 }?.stop() }
}
