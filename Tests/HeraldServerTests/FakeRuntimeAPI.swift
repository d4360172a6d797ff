import Foundation
import Hummingbird
import NIOCore
import Synchronization

/// Lambda's Runtime API as a function sees it (`AWS_LAMBDA_RUNTIME_API`), on 127.0.0.1:
/// `GET /invocation/next` is held until the test hands out an event (for as long as the test
/// likes, as Lambda holds it while the function is idle); answers, errors and the init error
/// are recorded, each awaitable.
final class FakeRuntimeAPI: Sendable {
    struct Invocation: Sendable {
        var id: String
        var body: String
        /// `Lambda-Runtime-Deadline-Ms`: milliseconds since 1970.
        var deadlineMilliseconds: Int64 = Int64(Date().timeIntervalSince1970 * 1000) + 60_000
    }

    /// What the function posted for an invocation: `response` or `error`, and the body.
    struct Answer: Sendable, Equatable {
        var kind: String
        var body: String
        var errorType: String?
    }

    private struct State {
        var queued: [Invocation] = []
        var waitingForEvent: CheckedContinuation<Invocation, Never>?
        var nextRequests = 0
        var answers: [String: Answer] = [:]
        var answerWaiters: [String: CheckedContinuation<Answer, Never>] = [:]
        var initError: String?
        /// Answers to `/response` refused with this status instead of accepted.
        var refuseResponsesWith: Int?
    }

    private let state = Mutex(State())
    private let server = Mutex<LocalHTTPServer?>(nil)

    var address: String { "127.0.0.1:\(server.withLock { $0?.port ?? 0 })" }

    static func start() async throws -> FakeRuntimeAPI {
        let api = FakeRuntimeAPI()
        let router = Router(context: BasicRequestContext.self)
        router.get("2018-06-01/runtime/invocation/next") { _, _ in
            let next = await api.nextInvocation()
            return Response(
                status: .ok,
                headers: [
                    .init("Lambda-Runtime-Aws-Request-Id")!: next.id, .init("Lambda-Runtime-Deadline-Ms")!: String(next.deadlineMilliseconds),
                    .init("Lambda-Runtime-Invoked-Function-Arn")!: "arn:aws:lambda:us-east-1:123456789012:function:test",
                ],
                body: .init(byteBuffer: ByteBuffer(string: next.body))
            )
        }
        for kind in ["response", "error"] {
            router.post("2018-06-01/runtime/invocation/:id/\(kind)") { request, context in
                let body = String(buffer: try await request.body.collect(upTo: 8 << 20))
                let refusal = api.state.withLock { $0.refuseResponsesWith }
                if kind == "response", let refusal { return Response(status: .init(code: refusal)) }
                api.record(
                    Answer(kind: kind, body: body, errorType: request.headers[.init("Lambda-Runtime-Function-Error-Type")!]),
                    for: context.parameters.get("id") ?? ""
                )
                return Response(status: .accepted)
            }
        }
        router.post("2018-06-01/runtime/init/error") { request, _ in
            let body = String(buffer: try await request.body.collect(upTo: 1 << 20))
            api.state.withLock { $0.initError = body }
            return Response(status: .accepted)
        }
        let server = try await LocalHTTPServer.start(router)
        api.server.withLock { $0 = server }
        return api
    }

    /// Hands out an event (to the `/next` waiting, or the next one to come).
    func invoke(_ invocation: Invocation) {
        state.withLock { state in
            if let waiting = state.waitingForEvent {
                state.waitingForEvent = nil
                waiting.resume(returning: invocation)
            } else {
                state.queued.append(invocation)
            }
        }
    }

    func invoke(_ id: String, _ body: String) { invoke(Invocation(id: id, body: body)) }

    /// What the function posted for `id`, once it has.
    func answer(of id: String) async -> Answer {
        await withCheckedContinuation { continuation in
            state.withLock { state in
                if let answer = state.answers[id] { continuation.resume(returning: answer) } else { state.answerWaiters[id] = continuation }
            }
        }
    }

    /// How many `GET /invocation/next` have arrived so far.
    var nextRequests: Int { state.withLock { $0.nextRequests } }
    var initError: String? { state.withLock { $0.initError } }

    func refuseResponses(with status: Int?) { state.withLock { $0.refuseResponsesWith = status } }

    private func nextInvocation() async -> Invocation {
        await withCheckedContinuation { continuation in
            state.withLock { state in
                state.nextRequests += 1
                if state.queued.isEmpty { state.waitingForEvent = continuation } else { continuation.resume(returning: state.queued.removeFirst()) }
            }
        }
    }

    private func record(_ answer: Answer, for id: String) {
        state.withLock { state in
            state.answers[id] = answer
            state.answerWaiters.removeValue(forKey: id)?.resume(returning: answer)
        }
    }

    /// Stops the server; a `/next` still held gets an event nobody asked for first (so the stop does not wait for it).
    func stop() async throws {
        invoke("stopping", "{}")
        try await server.withLock { $0 }?.stop()
    }
}
