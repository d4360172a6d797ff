public import AsyncHTTPClient
import Foundation
import HeraldCore
public import Logging
import NIOCore
import NIOHTTP1

/// The Lambda custom-runtime loop (provided.al2023): ask the Runtime API for the next event,
/// hand it to the handler, post the answer or the error, forever. No listed package is a Lambda
/// runtime, so this is Herald's own, on AsyncHTTPClient.
public struct LambdaRuntime: Sendable {
    /// `http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime`.
    let base: String
    let http: HTTPClient
    let logger: Logger

    public init(api: String, http: HTTPClient = .shared, logger: Logger) {
        base = "http://\(api)/2018-06-01/runtime"
        self.http = http
        self.logger = logger
    }

    /// Serves invocations until cancelled (or, with `limit`, that many; the tests use it).
    public func run(_ handler: any LambdaHandler, limit: Int? = nil) async throws {
        var served = 0
        while !Task.isCancelled, limit.map({ served < $0 }) ?? true {
            var next = HTTPClientRequest(url: "\(base)/invocation/next")
            next.method = .GET
            // The Runtime API holds this request until an event arrives.
            let response = try await http.execute(next, timeout: .hours(24))
            let body = try await response.body.collect(upTo: 6 << 20)
            guard let requestID = response.headers.first(name: "Lambda-Runtime-Aws-Request-Id") else {
                throw LambdaError("the Runtime API gave no request id")
            }
            do {
                let answer = try await handler.handle(JSON.parse(body.readableBytesView) ?? .null)
                try await post(JSON.encode(answer), to: "\(base)/invocation/\(requestID)/response")
            } catch {
                let failure = error as? LambdaError ?? LambdaError("\(error)", type: "\(type(of: error))")
                logger.error("Invocation failed", metadata: ["error": "\(failure)", "lambda.request.id": "\(requestID)"])
                try await post(Self.errorBody(failure), to: "\(base)/invocation/\(requestID)/error", unhandled: true)
            }
            served += 1
        }
    }

    /// Tells Lambda the function could not start (`/runtime/init/error`).
    public func failedToStart(_ error: LambdaError) async {
        try? await post(Self.errorBody(error), to: "\(base)/init/error", unhandled: true)
    }

    private func post(_ body: [UInt8], to url: String, unhandled: Bool = false) async throws {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        if unhandled { request.headers.add(name: "Lambda-Runtime-Function-Error-Type", value: "Unhandled") }
        request.body = .bytes(body)
        _ = try await http.execute(request, timeout: .seconds(10))
    }

    static func errorBody(_ error: LambdaError) -> [UInt8] {
        JSON.encode(JSONValue.object(["errorMessage": .string(error.message), "errorType": .string(error.type)]))
    }
}
