import AWSSignature
import Foundation
import HeraldCore
import Hummingbird
import NIOCore
import Synchronization

/// API Gateway's Management API as the tests need it, on 127.0.0.1: `POST` and `DELETE
/// /prod/@connections/{id}` for the connections the test opened (others are `410 Gone`, as for a
/// client that left), each request's SigV4 signature checked against `secret`. Records every frame.
final class FakeManagementAPI: Sendable {
    private struct State {
        var open: Set<String> = []
        var failing: Set<String> = []
        /// Statuses the next posts to a connection get, in order, before it answers normally.
        var scripted: [String: [Int]] = [:]
        var attempts: [String: Int] = [:]
        var frames: [String: [String]] = [:]
        var unsigned = 0
    }

    static let secret = "testing"
    let port: Int
    private let server: LocalHTTPServer
    private let state = Mutex(State())

    var endpoint: String { "http://127.0.0.1:\(port)/prod" }

    private init(port: Int, server: LocalHTTPServer) {
        (self.port, self.server) = (port, server)
    }

    static func start() async throws -> FakeManagementAPI {
        let box = StateBox()
        let router = Router(context: BasicRequestContext.self)
        router.post("prod/@connections/:id") { request, context in
            let body = try await request.body.collect(upTo: 1 << 20)
            return box.answer(request, id: context.parameters.get("id") ?? "", body: body) { state, id in
                state.frames[id, default: []].append(String(buffer: body))
            }
        }
        router.delete("prod/@connections/:id") { request, context in
            box.answer(request, id: context.parameters.get("id") ?? "", body: ByteBuffer()) { state, id in state.open.remove(id) }
        }
        let server = try await LocalHTTPServer.start(router)
        let api = FakeManagementAPI(port: server.port, server: server)
        box.api.withLock { $0 = api }
        return api
    }

    /// Lets the router reach the API it serves (made after the router).
    private final class StateBox: Sendable {
        let api = Mutex<FakeManagementAPI?>(nil)

        func answer(_ request: Request, id: String, body: ByteBuffer, _ act: @Sendable (inout State, String) -> Void) -> Response {
            guard let api = api.withLock({ $0 }) else { return Response(status: .serviceUnavailable) }
            return api.answer(request, id: id, body: body, act)
        }
    }

    private func answer(_ request: Request, id: String, body: ByteBuffer, _ act: (inout State, String) -> Void) -> Response {
        let target = request.head.path ?? "/"
        let query = target.firstIndex(of: "?")
        var headers = request.headers.map { (name: $0.name.canonicalName, value: $0.value) }
        if let authority = request.head.authority { headers.append((name: "host", value: authority)) }
        let signed = AWSSignatureV4.Request(
            method: request.method.rawValue,
            rawPath: String(target[..<(query ?? target.endIndex)]),
            rawQuery: "",
            headers: headers,
            bodySHA256Hex: AWSSignatureV4.sha256Hex(body.readableBytesView)
        )
        guard case .success = AWSSignatureV4.verify(signed, secrets: [Self.secret], now: Date().timeIntervalSince1970) else {
            state.withLock { $0.unsigned += 1 }
            return Response(status: .forbidden)
        }
        return state.withLock { state in
            if request.method == .post { state.attempts[id, default: 0] += 1 }
            if var statuses = state.scripted[id], !statuses.isEmpty {
                let status = statuses.removeFirst()
                state.scripted[id] = statuses
                return Response(status: .init(code: status))
            }
            if state.failing.contains(id) { return Response(status: .internalServerError) }
            guard state.open.contains(id) else { return Response(status: .gone) }
            act(&state, id)
            return Response(status: request.method == .delete ? .noContent : .ok)
        }
    }

    /// A connection API Gateway holds (frames to any other are `410`).
    func open(_ id: String) { state.withLock { _ = $0.open.insert(id) } }
    /// A connection that left API Gateway (its frames are `410` from now on).
    func close(_ id: String) { state.withLock { _ = $0.open.remove(id) } }
    /// A connection whose frames fail with `500`.
    func fail(_ id: String) { state.withLock { _ = $0.failing.insert(id) } }
    /// The next posts to `id` are answered with `statuses`, one each, before it answers normally.
    func script(_ id: String, _ statuses: [Int]) { state.withLock { $0.scripted[id] = statuses } }
    /// Posts to `id` so far, each try counted.
    func attempts(of id: String) -> Int { state.withLock { $0.attempts[id] ?? 0 } }
    func isOpen(_ id: String) -> Bool { state.withLock { $0.open.contains(id) } }
    /// The frames sent to `id`, as JSON.
    func frames(of id: String) -> [JSONValue] { state.withLock { ($0.frames[id] ?? []).compactMap { JSON.parse($0.utf8) } } }
    /// Requests whose signature did not verify.
    var unsigned: Int { state.withLock { $0.unsigned } }

    func stop() async throws { try await server.stop() }
}
