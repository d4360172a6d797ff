public import AWSSignature
public import AsyncHTTPClient
import Foundation
import HeraldCore
import NIOCore
import NIOHTTP1

/// Signed calls to AWS services over AsyncHTTPClient: the JSON APIs of DynamoDB, SQS, EventBridge
/// and Secrets Manager, and API Gateway's Management API. The Lambda function's role gives the
/// credentials (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`) and `AWS_REGION`.
/// `HERALD_AWS_ENDPOINT` sends every service's calls to one URL instead (a local emulator such
/// as moto, in the tests). No listed package is an AWS SDK, so this is Herald's own. Every call is
/// retried as `retry` says.
public struct AWSClient: Sendable {
    public var credentials: AWSSignatureV4.Credentials
    public var region: String
    /// One URL for every service (`http://127.0.0.1:5000`), or nil for AWS's own endpoints.
    public var endpoint: String?
    public var retry: RetryPolicy
    /// How long one try may take, from connecting to the answer's last byte.
    public var timeout: Duration = .seconds(5)
    let http: HTTPClient

    public init(
        credentials: AWSSignatureV4.Credentials,
        region: String,
        endpoint: String? = nil,
        retry: RetryPolicy = RetryPolicy(),
        http: HTTPClient = AWSClient.sharedHTTP
    ) {
        self.credentials = credentials
        self.region = region
        self.endpoint = endpoint
        self.retry = retry
        self.http = http
    }

    /// From the Lambda environment; nil when credentials or the region are missing.
    public init?(environment: [String: String]) {
        guard let credentials = AWSSignatureV4.Credentials(environment: environment),
            let region = environment["AWS_REGION"] ?? environment["AWS_DEFAULT_REGION"]
        else { return nil }
        self.init(credentials: credentials, region: region, endpoint: environment["HERALD_AWS_ENDPOINT"])
    }

    /// The most connections open to one host at once: the fan-out's posts in flight
    /// (`HERALD_POST_CONCURRENCY`, at most this) each have one.
    public static let connectionsPerHost = 128

    /// The process's HTTP client for AWS: a pool of up to `connectionsPerHost` connections per
    /// host; one idle for 30 s is closed (AWS's endpoints close idle ones after about a minute,
    /// and a connection they closed while Lambda froze the process must not be picked again).
    public static let sharedHTTP: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(3), read: .seconds(10))
        configuration.connectionPool = .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: connectionsPerHost)
        configuration.redirectConfiguration = .disallow
        configuration.decompression = .disabled
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    /// `https://{service}.{region}.amazonaws.com` (or `.amazonaws.com.cn` in China's regions).
    func serviceURL(_ service: String) -> String {
        endpoint ?? "https://\(service).\(region).amazonaws.com\(region.hasPrefix("cn-") ? ".cn" : "")"
    }

    /// Calls a JSON-protocol operation (`X-Amz-Target`), e.g. `DynamoDB_20120810.GetItem`.
    func json(service: String, target: String, version: String = "1.0", _ body: JSONValue) async throws -> JSONValue {
        let answer = try await send(
            .POST,
            url: serviceURL(service) + "/",
            service: service,
            body: JSON.encode(body),
            headers: [("Content-Type", "application/x-amz-json-\(version)"), ("X-Amz-Target", target)]
        )
        guard answer.status == 200 else { throw AWSError(answer) }
        return JSON.parse(answer.body) ?? [:]
    }

    /// Signs and sends one request, retrying a passing failure; the answer whatever its status
    /// (the last try's). With `deadline`, no try starts or lasts past it (`AWSError.outOfTime`).
    func send(
        _ method: HTTPMethod,
        url: String,
        service: String,
        body: [UInt8],
        headers: [(String, String)] = [],
        deadline: ContinuousClock.Instant? = nil
    ) async throws -> (status: Int, body: [UInt8], headers: HTTPHeaders) {
        var retries = 0
        while true {
            let end = min(ContinuousClock.now + timeout, deadline ?? .now + timeout)
            guard end > .now else { throw AWSError.outOfTime }
            do {
                let answer = try await sendOnce(method, url: url, service: service, body: body, headers: headers, within: end - .now)
                let type = answer.status >= 400 ? AWSError(answer).type : nil
                guard retries + 1 < retry.attempts, RetryPolicy.isPassing(status: answer.status, type: type) else { return answer }
            } catch is CancellationError {
                throw CancellationError()
            } catch let error as AWSError where error.type == "InvalidURL" {
                throw error
            } catch {
                guard retries + 1 < retry.attempts else { throw AWSError(status: 0, type: "ConnectionFailed", message: "\(error)") }
            }
            retries += 1
            let wait = retry.delay(beforeRetry: retries, fraction: Double.random(in: 0..<1))
            if let deadline, ContinuousClock.now + wait >= deadline { throw AWSError.outOfTime }
            try await Task.sleep(for: wait)
        }
    }

    private func sendOnce(
        _ method: HTTPMethod,
        url: String,
        service: String,
        body: [UInt8],
        headers: [(String, String)],
        within limit: Duration
    ) async throws -> (status: Int, body: [UInt8], headers: HTTPHeaders) {
        guard let parsed = URL(string: url), let host = parsed.host else { throw AWSError(status: 0, type: "InvalidURL", message: url) }
        let authority = parsed.port.map { "\(host):\($0)" } ?? host
        let rawPath = parsed.path(percentEncoded: true).isEmpty ? "/" : parsed.path(percentEncoded: true)
        let unsigned = AWSSignatureV4.Request(
            method: method.rawValue,
            rawPath: rawPath,
            rawQuery: parsed.query(percentEncoded: true) ?? "",
            headers: [("Host", authority)] + headers.map { (name: $0.0, value: $0.1) },
            bodySHA256Hex: AWSSignatureV4.sha256Hex(body)
        )
        let signature = AWSSignatureV4.signature(for: unsigned, credentials: credentials, region: region, service: service, at: Date())
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers + signature.map({ ($0.name, $0.value) }) { request.headers.add(name: name, value: value) }
        request.body = .bytes(body)
        let response = try await http.execute(request, timeout: .nanoseconds(limit.inNanoseconds))
        let collected = try await response.body.collect(upTo: 16 << 20)
        return (Int(response.status.code), Array(collected.readableBytesView), response.headers)
    }
}

/// An AWS service's error answer: its HTTP status, type (`ResourceNotFoundException`,
/// `GoneException`…) and message.
public struct AWSError: Error, CustomStringConvertible {
    public var status: Int
    public var type: String
    public var message: String

    init(status: Int, type: String, message: String) {
        self.status = status
        self.type = type
        self.message = message
    }

    init(_ answer: (status: Int, body: [UInt8], headers: HTTPHeaders)) {
        let body = JSON.parse(answer.body)
        let declared = body?["__type"]?.stringValue ?? answer.headers.first(name: "x-amzn-ErrorType") ?? "HTTP\(answer.status)"
        // "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException" → the part after '#' (and before ':').
        let type = declared.split(separator: "#").last.map { String($0.split(separator: ":").first ?? $0) } ?? declared
        let message = body?["message"]?.stringValue ?? body?["Message"]?.stringValue ?? String(decoding: answer.body.prefix(200), as: UTF8.self)
        self.init(status: answer.status, type: type, message: message)
    }

    /// The invocation's deadline came before the call could be made or finished.
    static let outOfTime = AWSError(status: 0, type: "OutOfTime", message: "the invocation's deadline came first")

    public var description: String { "\(type) (\(status)): \(message)" }
}
