import Foundation
import HeraldCore
import HeraldLambda
import Logging
import Testing

/// The custom-runtime loop against a local Runtime API (the one Lambda gives a function at
/// `AWS_LAMBDA_RUNTIME_API`), and the `herald-lambda` binary: every failure ends in the
/// Runtime API's terms, an idle function waits at `/invocation/next` for as long as it is held,
/// frozen or not, and nothing traps.
@Suite struct LambdaRuntimeTests {
    private struct Echo: LambdaHandler {
        func handle(_ event: JSONValue, context: LambdaContext) async throws -> JSONValue {
            if event["fail"] == .bool(true) { throw LambdaError("asked to fail", type: "Asked") }
            if event["crash"] == .bool(true) { throw CancellationError() }
            if event["deadline"] == .bool(true) { return ["remainingMs": .int(Int(context.remaining() / .milliseconds(1)))] }
            return ["echo": event, "requestId": .string(context.requestID)]
        }
    }

    private let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    private func json(_ text: String) -> JSONValue? { JSON.parse(Array(text.utf8)) }

    @Test func eachEventIsHandledAndItsAnswerOrErrorPosted() async throws {
        let api = try await FakeRuntimeAPI.start()
        for (id, body) in [("r1", #"{"n":1}"#), ("r2", #"{"fail":true}"#), ("r3", #"{"crash":true}"#), ("r4", "not json")] { api.invoke(id, body) }
        let ending = await LambdaRuntime(api: api.address, logger: quiet).run(limit: 4) { Echo() }
        #expect(ending == .served(4))
        let (r1, r2, r3, r4) = (await api.answer(of: "r1"), await api.answer(of: "r2"), await api.answer(of: "r3"), await api.answer(of: "r4"))
        #expect(r1.kind == "response" && json(r1.body) == ["echo": ["n": .int(1)], "requestId": "r1"])
        #expect(r2 == .init(kind: "error", body: #"{"errorMessage":"asked to fail","errorType":"Asked"}"#, errorType: "Unhandled"))
        #expect(r3.kind == "error" && json(r3.body)?["errorType"] == "CancellationError")
        #expect(r4.kind == "error" && json(r4.body) == ["errorMessage": "the event is not JSON", "errorType": "InvalidEvent"])
        try await api.stop()
    }

    @Test func anAnswerTheRuntimeAPIRefusesIsReportedAsTheInvocationsError() async throws {
        let api = try await FakeRuntimeAPI.start()
        api.refuseResponses(with: 413)
        api.invoke("r1", #"{"n":1}"#)
        #expect(await LambdaRuntime(api: api.address, logger: quiet).run(limit: 1) { Echo() } == .served(1))
        let answer = await api.answer(of: "r1")
        #expect(answer.kind == "error" && json(answer.body)?["errorType"] == "AnswerRefused")
        try await api.stop()
    }

    /// The Runtime API holds `/next` while the function is idle, for minutes or hours: longer
    /// than any timeout the runtime's own requests have (here 1 s, so the test is short).
    @Test func aNextHeldLongerThanEveryTimeoutStillGetsItsEvent() async throws {
        let api = try await FakeRuntimeAPI.start()
        let runtime = LambdaRuntime(api: api.address, logger: quiet, timeouts: .init(connect: .seconds(1), post: .seconds(1)))
        api.invoke("r1", #"{"n":1}"#)
        let running = Task { await runtime.run(limit: 2) { Echo() } }
        #expect(await api.answer(of: "r1").kind == "response")
        try await waitUntil("the runtime waits for its second event") { api.nextRequests == 2 }
        try await Task.sleep(for: .seconds(3))  // the idle gap itself: three times the runtime's timeouts
        api.invoke("r2", #"{"n":2}"#)
        #expect(await api.answer(of: "r2").kind == "response")
        #expect(await running.value == .served(2))
        try await api.stop()
    }

    @Test func theHandlerIsGivenTheInvocationsDeadline() async throws {
        let api = try await FakeRuntimeAPI.start()
        api.invoke(.init(id: "r1", body: #"{"deadline":true}"#, deadlineMilliseconds: Int64(Date().timeIntervalSince1970 * 1000) + 5_000))
        #expect(await LambdaRuntime(api: api.address, logger: quiet).run(limit: 1) { Echo() } == .served(1))
        guard case .int(let remaining)? = json(await api.answer(of: "r1").body)?["remainingMs"] else { throw TestFailure("no remainingMs") }
        #expect((3_000...5_000).contains(remaining), "\(remaining) ms left of 5,000")
        try await api.stop()
    }

    @Test func aHandlerThatCannotBeMadeIsAnInitError() async throws {
        let api = try await FakeRuntimeAPI.start()
        let ending = await LambdaRuntime(api: api.address, logger: quiet).run { () async throws(LambdaError) -> any LambdaHandler in
            throw LambdaError("HERALD_TABLE is not set")
        }
        #expect(ending == .failedToStart(LambdaError("HERALD_TABLE is not set")))
        #expect(api.initError.flatMap(json) == ["errorMessage": "HERALD_TABLE is not set", "errorType": "HeraldError"])
        try await api.stop()
    }

    // MARK: The binary

    /// `.build/debug/herald-lambda`, which `swift test` builds with the tests.
    static let binary = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appending(path: ".build/debug/herald-lambda")

    /// The test-token function's environment against moto (it needs only its secret).
    private func testTokenEnvironment(runtimeAPI: String) async throws -> [String: String] {
        [
            "AWS_LAMBDA_RUNTIME_API": runtimeAPI, "_HANDLER": "test-token", "HERALD_TABLE": "unused",
            "HERALD_SECRET_ID": try await TestMoto.secret("runtime-secret-0123456789abcdef-0123456789"),
            "HERALD_AWS_ENDPOINT": try await TestMoto.client().endpoint ?? "", "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
        ]
    }

    @Test func theBinaryReportsAMissingSettingAsAnInitError() async throws {
        let api = try await FakeRuntimeAPI.start()
        let started = try await runToEnd(
            "/usr/bin/env",
            ["AWS_LAMBDA_RUNTIME_API=\(api.address)", "_HANDLER=websocket", Self.binary.path],
            timeout: .seconds(30)
        )
        #expect(started.status == 1)
        #expect(api.initError.flatMap(json) == ["errorMessage": "HERALD_TABLE is not set", "errorType": "HeraldError"])
        let outside = try await runToEnd("/usr/bin/env", ["-u", "AWS_LAMBDA_RUNTIME_API", Self.binary.path], timeout: .seconds(30))
        #expect(outside.status == 1 && outside.errors.contains("runs inside AWS Lambda"))
        try await api.stop()
    }

    /// Lambda freezes an idle function's process between invocations; thawed, it serves the next.
    @Test func theBinaryServesTheNextInvocationAfterBeingFrozen() async throws {
        let api = try await FakeRuntimeAPI.start()
        let function = try HeraldProcess(Self.binary, [], environment: try await testTokenEnvironment(runtimeAPI: api.address))
        api.invoke("r1", #"{"userId":"ada"}"#)
        #expect(json(await api.answer(of: "r1").body)?["authToken"]?.stringValue != nil)
        try await waitUntil("the runtime waits for its second event") { api.nextRequests == 2 }
        function.signal(SIGSTOP)
        try await Task.sleep(for: .seconds(2))  // frozen, as Lambda leaves an idle function
        function.signal(SIGCONT)
        api.invoke("r2", #"{"userId":"bob"}"#)
        let second = await api.answer(of: "r2")
        #expect(second.kind == "response" && json(second.body)?["authToken"]?.stringValue != nil, "\(second)")
        #expect(function.isRunning)
        function.signal(SIGKILL)
        _ = await function.exitCode()
        try await api.stop()
    }

    /// A Runtime API that cannot be reached ends the process with a reason, not a trap.
    @Test func theBinaryExitsWithAReasonWhenTheRuntimeAPIIsGone() async throws {
        let nowhere = "127.0.0.1:\(try freePort())"
        let function = try HeraldProcess(Self.binary, [], environment: try await testTokenEnvironment(runtimeAPI: nowhere))
        let code = await function.exitCode()
        let errors = await function.standardError()
        #expect(!function.endedBySignal && code == 1, "\(errors)")
        #expect(errors.contains("the Runtime API at \(nowhere) is gone") && !errors.contains("Fatal error"), "\(errors)")
    }
}
