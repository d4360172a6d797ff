import AsyncHTTPClient
import Foundation
import HeraldClient
import HeraldCore
import HeraldServer
import HeraldTokens
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import Synchronization
import Testing

/// A live Herald on 127.0.0.1 and a free port, with real WebSocket and HTTP clients.
final class TestServer: Sendable {
    static let secret = "test-secret-0123456789abcdef-0123456789abcdef-0123456789abcdef-xyz"
    static let publishKey = "test-publish-key"

    let port: Int
    let application: HeraldApplication
    private let group: ServiceGroup
    private let running: Task<Void, any Error>

    private init(port: Int, application: HeraldApplication, group: ServiceGroup, running: Task<Void, any Error>) {
        self.port = port
        self.application = application
        self.group = group
        self.running = running
    }

    static func start(
        logger: Logger = Logger(label: "herald.test", factory: { _ in SwiftLogNoOpLogHandler() }),
        broker: BrokerFactory = .memory,
        _ configure: (inout HeraldConfiguration) -> Void = { _ in }
    ) async throws -> TestServer {
        var configuration = HeraldConfiguration()
        configuration.listen.host = "127.0.0.1"
        configuration.listen.port = 0
        configuration.tokens.secret = secret
        configuration.publishKeys = [publishKey]
        configure(&configuration)
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let application = try await buildApplication(configuration: configuration, logger: logger, broker: broker) { _, port in
            portContinuation.yield(port)
        }
        let group = ServiceGroup(configuration: .init(services: [application], logger: logger))
        let running = Task { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw TestFailure("the server did not start") }
        return TestServer(port: port, application: application, group: group, running: running)
    }

    /// Triggers graceful shutdown (what SIGTERM does) and waits for the server to stop.
    func stop() async throws {
        await beginShutdown()
        try await running.value
    }

    /// Triggers graceful shutdown (what SIGTERM does) and returns at once.
    func beginShutdown() async {
        await group.triggerGracefulShutdown()
    }

    var httpURL: String { "http://127.0.0.1:\(port)" }
    var wsURL: String { "ws://127.0.0.1:\(port)/" }

    func token(user: String = "myuserid", ttl: Duration = .seconds(3600), entities: [String]? = nil) async throws -> String {
        var claims = TokenIssuer.Claims()
        claims.userID = user
        claims.ttl = ttl
        claims.entities = entities
        return try await TokenIssuer(secret: Self.secret).token(for: claims)
    }

    /// Connects with a token in `access_token` and returns the socket.
    func connect(user: String = "myuserid") async throws -> HeraldSocket {
        try await HeraldSocket.connect(url: wsURL + "?access_token=" + token(user: user))
    }

    /// Connects and subscribes to `entities`, waiting for every ack.
    func subscriber(user: String = "myuserid", to entities: [String]) async throws -> HeraldSocket {
        let socket = try await connect(user: user)
        socket.send(#"{"action":"subscribe","entityIds":[\#(entities.map { "\"\($0)\"" }.joined(separator: ","))]}"#)
        for entity in entities {
            let ack = try await socket.json()
            #expect(ack["type"] == "subscribed" && ack["entityId"] == .string(entity))
        }
        return socket
    }

    func publish(_ path: String, _ body: String, key: String? = publishKey) async throws -> PublishClient.Answer {
        try await PublishClient(baseURL: httpURL, publishKey: key).post(path, body: Array(body.utf8))
    }

    func publishEntity(_ entity: String, message: String) async throws -> JSONValue {
        let answer = try await publish("/entities/\(entity)/updates", #"{"message":"\#(message)"}"#)
        #expect(answer.status == 202)
        return try #require(JSON.parse(answer.body))
    }

    /// `GET path` with the publish key (or `key`); returns status and JSON body.
    func get(_ path: String, key: String? = publishKey) async throws -> (Int, JSONValue?) {
        let response = try await request(.GET, path, key: key)
        return (response.status, JSON.parse(response.body.readableBytesView))
    }

    /// Any request with the publish key (or `key`); returns status, headers and body.
    func request(
        _ method: HTTPMethod,
        _ path: String,
        body: [UInt8]? = nil,
        key: String? = publishKey
    ) async throws -> (status: Int, headers: HTTPHeaders, body: ByteBuffer) {
        var request = HTTPClientRequest(url: httpURL + path)
        request.method = method
        if let key { request.headers.add(name: "Authorization", value: "Bearer \(key)") }
        if let body { request.body = .bytes(body) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        return (Int(response.status.code), response.headers, try await response.body.collect(upTo: 1 << 20))
    }

    /// The id of `user`'s only connection, from `GET /admin/connections`.
    func connectionID(of user: String) async throws -> String {
        let (status, body) = try await get("/admin/connections?userId=\(user)")
        #expect(status == 200)
        guard case .array(let connections)? = body?["connections"], connections.count == 1, case .string(let id)? = connections[0]["connectionId"]
        else { throw TestFailure("expected one connection of \(user), got \(String(describing: body))") }
        return id
    }

    /// `GET /metrics`, as series (`name{labels}`) → value.
    func metrics() async throws -> [String: Double] {
        let response = try await request(.GET, "/metrics", key: nil)
        #expect(response.status == 200)
        return prometheusSeries(String(buffer: response.body))
    }

    /// A GET to the WebSocket path with upgrade headers, as a WebSocket client sends it; returns status and body.
    func upgradeAttempt(query: String = "", headers: [String: String] = [:], key: Bool = true) async throws -> (Int, JSONValue?) {
        var request = HTTPClientRequest(url: httpURL + "/" + query)
        request.headers.add(name: "Upgrade", value: "websocket")
        request.headers.add(name: "Connection", value: "Upgrade")
        request.headers.add(name: "Sec-WebSocket-Version", value: "13")
        if key { request.headers.add(name: "Sec-WebSocket-Key", value: "dGhlIHNhbXBsZSBub25jZQ==") }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), JSON.parse(body.readableBytesView))
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension HeraldSocket {
    /// The next frame as JSON; fails the test when none arrives in time or the socket closed.
    func json(timeout: Duration = .seconds(5)) async throws -> JSONValue {
        switch await next(timeout: timeout) {
        case .text(let text)?: return try #require(JSON.parse(text), "not JSON: \(text)")
        case let other: throw TestFailure("expected a text frame, got \(String(describing: other))")
        }
    }

    /// Waits for the close; returns the server's close code.
    func closeCode(timeout: Duration = .seconds(5)) async throws -> UInt16? {
        while true {
            switch await next(timeout: timeout) {
            case .closed(let code, _)?: return code
            case nil: throw TestFailure("the connection did not close in time")
            default: continue
            }
        }
    }

    /// Asserts that nothing is queued for this client: pushes are posted before a publish returns,
    /// so if a ping's pong is the next frame, nothing else was sent.
    func expectNothingPending() async throws {
        send(#"{"action":"ping","requestId":"probe"}"#)
        let next = try await json()
        #expect(next == .object(["type": "pong", "requestId": "probe"]), "unexpected frame \(next)")
    }
}

/// Polls `condition` every 20 ms for at most `limit`.
func waitUntil(_ what: String, within limit: Duration = .seconds(10), _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + limit
    while !condition() {
        guard ContinuousClock.now < deadline else { throw TestFailure("not within \(limit): \(what)") }
        try await Task.sleep(for: .milliseconds(20))
    }
}

/// Runs `body`, failing once `timeout` has passed even if `body` does not respond to cancellation
/// (a connect to a server that never accepts); `body` is then cancelled and left behind.
func withDeadline<T: Sendable>(_ timeout: Duration, _ what: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    let outcome = DeadlineOutcome<T>()
    return try await withCheckedThrowingContinuation { continuation in
        outcome.continuation.withLock { $0 = continuation }
        let work = Task {
            do { outcome.finish(.success(try await body())) } catch { outcome.finish(.failure(error)) }
        }
        Task {
            try? await Task.sleep(for: timeout)
            work.cancel()
            outcome.finish(.failure(TestFailure("not within \(timeout): \(what)")))
        }
    }
}

/// The first result of a `withDeadline`: the body's, or the timeout's.
private final class DeadlineOutcome<T: Sendable>: Sendable {
    let continuation = Mutex<CheckedContinuation<T, any Error>?>(nil)
    func finish(_ result: Result<T, any Error>) { continuation.withLock { $0.take() }?.resume(with: result) }
}
