import AsyncHTTPClient
import Foundation
import HeraldCore
public import Logging
import NIOCore
import NIOHTTP1

/// The Lambda custom-runtime loop (provided.al2023): ask the Runtime API for the next event,
/// hand it to the handler, post the answer or the error, until the Runtime API is gone. No
/// listed package is a Lambda runtime, so this is Herald's own, on AsyncHTTPClient.
///
/// The Runtime API holds `GET /runtime/invocation/next` until an event arrives, for as long as
/// the function is idle, and Lambda freezes the process meanwhile: that request has no timeout
/// (AWS's Runtime API documentation asks for none), on an HTTP client of the runtime's own. Every
/// error ends in the Runtime API's terms: a function that cannot start posts `/init/error`, an
/// invocation that fails (the handler threw, its event is not JSON, its answer was refused)
/// posts `/invocation/{id}/error`, and a Runtime API that cannot be reached ends the loop,
/// which the process reports and exits on. Nothing traps.
public struct LambdaRuntime: Sendable {
    /// The bounds on the runtime's own requests; `/invocation/next` has none.
    public struct Timeouts: Sendable {
        /// Opening a connection to the Runtime API.
        public var connect: Duration = .seconds(5)
        /// Posting an answer or an error, from start to end.
        public var post: Duration = .seconds(30)

        public init(connect: Duration = .seconds(5), post: Duration = .seconds(30)) {
            self.connect = connect
            self.post = post
        }
    }

    /// Why `run` returned.
    public enum Ending: Equatable, Sendable {
        /// Served `limit` invocations (the tests ask for a limit; Lambda's loop has none).
        case served(Int)
        /// The handler could not be made; `/init/error` was posted.
        case failedToStart(LambdaError)
        /// The Runtime API could not be reached or answered nonsense; nothing more can be done.
        case lostRuntimeAPI(String)
    }

    /// The largest event and answer Lambda passes (6 MB, its synchronous payload limit).
    static let payloadLimit = 6 * 1024 * 1024

    /// `http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime`.
    let base: String
    let logger: Logger
    let timeouts: Timeouts

    public init(api: String, logger: Logger, timeouts: Timeouts = Timeouts()) {
        base = "http://\(api)/2018-06-01/runtime"
        self.logger = logger
        self.timeouts = timeouts
    }

    /// Makes the handler (reporting an error to `/init/error`), then serves invocations until
    /// the Runtime API is gone (or, with `limit`, that many).
    public func run(limit: Int? = nil, _ makeHandler: @Sendable () async throws(LambdaError) -> any LambdaHandler) async -> Ending {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .nanoseconds(timeouts.connect.inNanoseconds), read: nil)
        configuration.redirectConfiguration = .disallow
        configuration.decompression = .disabled
        let http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        let ending = await serve(http, limit: limit, makeHandler)
        try? await http.shutdown()
        return ending
    }

    private func serve(_ http: HTTPClient, limit: Int?, _ makeHandler: () async throws(LambdaError) -> any LambdaHandler) async -> Ending {
        let handler: any LambdaHandler
        do {
            handler = try await makeHandler()
        } catch {
            logger.error("The function cannot start", metadata: ["error": "\(error)"])
            do {
                try await post(Self.errorBody(error), to: "\(base)/init/error", http)
            } catch {
                return .lostRuntimeAPI("cannot report the start failure to the Runtime API: \(error)")
            }
            return .failedToStart(error)
        }
        var served = 0
        while limit.map({ served < $0 }) ?? true {
            let invocation: (context: LambdaContext, body: ByteBuffer)
            do {
                invocation = try await next(http)
            } catch {
                return .lostRuntimeAPI("\(error)")
            }
            do {
                try await answer(invocation.context, invocation.body, handler, http)
            } catch {
                return .lostRuntimeAPI("cannot post invocation \(invocation.context.requestID)'s answer to the Runtime API: \(error)")
            }
            served += 1
        }
        return .served(served)
    }

    /// `GET /invocation/next`, waiting as long as the Runtime API holds it.
    private func next(_ http: HTTPClient) async throws -> (context: LambdaContext, body: ByteBuffer) {
        let response = try await http.execute(HTTPClientRequest(url: "\(base)/invocation/next"), deadline: .distantFuture)
        let body = try await response.body.collect(upTo: Self.payloadLimit + 1024)
        guard response.status == .ok else {
            throw LambdaError("the Runtime API answered /invocation/next with \(response.status.code): \(String(buffer: body).prefix(200))")
        }
        guard let requestID = response.headers.first(name: "Lambda-Runtime-Aws-Request-Id"), !requestID.isEmpty else {
            throw LambdaError("the Runtime API gave an event without Lambda-Runtime-Aws-Request-Id")
        }
        let now = ContinuousClock.now
        let deadline = response.headers.first(name: "Lambda-Runtime-Deadline-Ms").flatMap(Int64.init).map {
            LambdaContext.deadline(fromEpochMilliseconds: $0, nowMilliseconds: Int64(Date().timeIntervalSince1970 * 1000), now: now)
        }
        if let trace = response.headers.first(name: "Lambda-Runtime-Trace-Id") { setenv("_X_AMZN_TRACE_ID", trace, 1) }
        // Without a deadline (not Lambda's Runtime API), the longest a function may run: 15 minutes.
        return (LambdaContext(requestID: requestID, deadline: deadline ?? now + .seconds(900)), body)
    }

    /// Runs the handler on one event and posts its answer, or the invocation's error.
    private func answer(_ context: LambdaContext, _ body: ByteBuffer, _ handler: any LambdaHandler, _ http: HTTPClient) async throws {
        let invocation = "\(base)/invocation/\(context.requestID)"
        let failure: LambdaError
        if let event = JSON.parse(body.readableBytesView) {
            do {
                let answer = JSON.encode(try await handler.handle(event, context: context))
                if answer.count <= Self.payloadLimit {
                    let status = try await post(answer, to: "\(invocation)/response", http, failing: false)
                    if (200..<300).contains(status) { return }
                    failure = LambdaError("the Runtime API refused the answer (\(status), \(answer.count) bytes)", type: "AnswerRefused")
                } else {
                    failure = LambdaError("the answer is \(answer.count) bytes; Lambda takes at most \(Self.payloadLimit)", type: "AnswerTooLarge")
                }
            } catch let error as LambdaError {
                failure = error
            } catch {
                failure = LambdaError("\(error)", type: "\(type(of: error))")
            }
        } else {
            failure = LambdaError("the event is not JSON", type: "InvalidEvent")
        }
        logger.error(
            "Invocation failed",
            metadata: ["error": "\(failure)", "error.type": "\(failure.type)", "lambda.request.id": "\(context.requestID)"]
        )
        try await post(Self.errorBody(failure), to: "\(invocation)/error", http)
    }

    /// Posts to the Runtime API; returns its status (with `failing`, a status that is not 2xx throws).
    @discardableResult
    private func post(_ body: [UInt8], to url: String, _ http: HTTPClient, failing: Bool = true) async throws -> Int {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        if url.hasSuffix("/error") { request.headers.add(name: "Lambda-Runtime-Function-Error-Type", value: "Unhandled") }
        request.body = .bytes(body)
        let response = try await http.execute(request, timeout: .nanoseconds(timeouts.post.inNanoseconds))
        let answer = try await response.body.collect(upTo: 64 * 1024)
        let status = Int(response.status.code)
        if failing, !(200..<300).contains(status) {
            throw LambdaError("the Runtime API answered \(url) with \(status): \(String(buffer: answer).prefix(200))")
        }
        return status
    }

    static func errorBody(_ error: LambdaError) -> [UInt8] {
        JSON.encode(JSONValue.object(["errorMessage": .string(error.message), "errorType": .string(error.type)]))
    }
}
