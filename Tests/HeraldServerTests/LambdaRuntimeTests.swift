import Foundation
import HeraldCore
import HeraldLambda
import Hummingbird
import Logging
import NIOCore
import Synchronization
import Testing

/// The custom-runtime loop against a local Runtime API (the one Lambda gives a function at
/// `AWS_LAMBDA_RUNTIME_API`), and the `herald-lambda` binary's start.
@Suite struct LambdaRuntimeTests {
    /// Lambda's Runtime API: hands out the queued events, records what comes back.
    private struct RuntimeAPI {
        final class Recorder: Sendable {
            let state = Mutex<(events: [(id: String, body: String)], answers: [String: (kind: String, body: String)], initError: String?)>(([], [:], nil))
        }

        let recorder: Recorder
        let server: LocalHTTPServer

        static func start(events: [(id: String, body: String)]) async throws -> RuntimeAPI {
            let api = Recorder()
            api.state.withLock { $0.events = events }
            let router = Router(context: BasicRequestContext.self)
            router.get("2018-06-01/runtime/invocation/next") { _, _ in
                guard let next = api.state.withLock({ $0.events.isEmpty ? nil : $0.events.removeFirst() }) else {
                    return Response(status: .serviceUnavailable)
                }
                return Response(
                    status: .ok, headers: [.init("Lambda-Runtime-Aws-Request-Id")!: next.id, .init("Lambda-Runtime-Deadline-Ms")!: "9999999999999"],
                    body: .init(byteBuffer: ByteBuffer(string: next.body))
                )
            }
            for kind in ["response", "error"] {
                router.post("2018-06-01/runtime/invocation/:id/\(kind)") { request, context in
                    let body = String(buffer: try await request.body.collect(upTo: 1 << 20))
                    api.state.withLock { $0.answers[context.parameters.get("id") ?? ""] = (kind, body) }
                    return Response(status: .accepted)
                }
            }
            router.post("2018-06-01/runtime/init/error") { request, _ in
                let body = String(buffer: try await request.body.collect(upTo: 1 << 20))
                api.state.withLock { $0.initError = body }
                return Response(status: .accepted)
            }
            return RuntimeAPI(recorder: api, server: try await LocalHTTPServer.start(router))
        }

        var address: String { "127.0.0.1:\(server.port)" }
    }

    private struct Echo: LambdaHandler {
        func handle(_ event: JSONValue) async throws -> JSONValue {
            if event["fail"] == .bool(true) { throw LambdaError("asked to fail", type: "Asked") }
            return ["echo": event]
        }
    }

    @Test func eachEventIsHandledAndItsAnswerOrErrorPosted() async throws {
        let api = try await RuntimeAPI.start(events: [("r1", #"{"n":1}"#), ("r2", #"{"fail":true}"#)])
        let runtime = LambdaRuntime(api: api.address, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        try await runtime.run(Echo(), limit: 2)
        let answers = api.recorder.state.withLock { $0.answers }
        #expect(answers["r1"]?.kind == "response" && JSON.parse(Array(answers["r1"]?.body.utf8 ?? "".utf8)) == ["echo": ["n": .int(1)]])
        #expect(answers["r2"]?.kind == "error")
        #expect(JSON.parse(Array(answers["r2"]?.body.utf8 ?? "".utf8)) == ["errorMessage": "asked to fail", "errorType": "Asked"])
        try await api.server.stop()
    }

    /// `.build/debug/herald-lambda`, which `swift test` builds with the tests.
    static let binary = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appending(path: ".build/debug/herald-lambda").path

    @Test func theBinaryReportsAMissingSettingAsAnInitError() async throws {
        let api = try await RuntimeAPI.start(events: [])
        let started = try await runToEnd("/usr/bin/env", ["AWS_LAMBDA_RUNTIME_API=\(api.address)", "_HANDLER=websocket", Self.binary], timeout: .seconds(30))
        #expect(started.status == 1)
        #expect(api.recorder.state.withLock { $0.initError }.flatMap { JSON.parse(Array($0.utf8)) } == ["errorMessage": "HERALD_TABLE is not set", "errorType": "HeraldError"])
        let outside = try await runToEnd("/usr/bin/env", ["-u", "AWS_LAMBDA_RUNTIME_API", Self.binary], timeout: .seconds(30))
        #expect(outside.status == 1 && outside.errors.contains("runs inside AWS Lambda"))
        try await api.server.stop()
    }
}
