public import AWSSignature
public import AsyncHTTPClient
import Foundation
import HeraldCore
import NIOCore
import NIOHTTP1

/// Signed calls to AWS services over AsyncHTTPClient: the JSON APIs of DynamoDB and Secrets
/// Manager, and API Gateway's Management API. The Lambda function's role gives the credentials
/// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`) and `AWS_REGION`.
/// `HERALD_AWS_ENDPOINT` sends every service's calls to one URL instead (a local emulator such
/// as moto, in the tests). No listed package is an AWS SDK, so this is Herald's own.
public struct AWSClient: Sendable {
    public var credentials: AWSSignatureV4.Credentials
    public var region: String
    /// One URL for every service (`http://127.0.0.1:5000`), or nil for AWS's own endpoints.
    public var endpoint: String?
    let http: HTTPClient

    public init(credentials: AWSSignatureV4.Credentials, region: String, endpoint: String? = nil, http: HTTPClient = .shared) {
        self.credentials = credentials
        self.region = region
        self.endpoint = endpoint
        self.http = http
    }

    /// From the Lambda environment; nil when credentials or the region are missing.
    public init?(environment: [String: String], http: HTTPClient = .shared) {
        guard let credentials = AWSSignatureV4.Credentials(environment: environment),
            let region = environment["AWS_REGION"] ?? environment["AWS_DEFAULT_REGION"]
        else { return nil }
        self.init(credentials: credentials, region: region, endpoint: environment["HERALD_AWS_ENDPOINT"], http: http)
    }

    /// Calls a JSON-protocol operation (`X-Amz-Target`), e.g. `DynamoDB_20120810.GetItem`.
    func json(service: String, target: String, version: String = "1.0", _ body: JSONValue) async throws -> JSONValue {
        let url = endpoint ?? "https://\(service).\(region).amazonaws.com"
        let answer = try await send(
            .POST, url: url + "/", service: service, body: JSON.encode(body),
            headers: [("Content-Type", "application/x-amz-json-\(version)"), ("X-Amz-Target", target)]
        )
        guard answer.status == 200 else { throw AWSError(answer) }
        return JSON.parse(answer.body) ?? [:]
    }

    /// Signs and sends one request; the answer whatever its status.
    func send(
        _ method: HTTPMethod, url: String, service: String, body: [UInt8], headers: [(String, String)] = []
    ) async throws -> (status: Int, body: [UInt8], headers: HTTPHeaders) {
        guard let parsed = URL(string: url), let host = parsed.host else { throw AWSError(status: 0, type: "InvalidURL", message: url) }
        let authority = parsed.port.map { "\(host):\($0)" } ?? host
        let rawPath = parsed.path(percentEncoded: true).isEmpty ? "/" : parsed.path(percentEncoded: true)
        let unsigned = AWSSignatureV4.Request(
            method: method.rawValue, rawPath: rawPath, rawQuery: parsed.query(percentEncoded: true) ?? "",
            headers: [("Host", authority)] + headers.map { (name: $0.0, value: $0.1) }, bodySHA256Hex: AWSSignatureV4.sha256Hex(body)
        )
        let signature = AWSSignatureV4.signature(for: unsigned, credentials: credentials, region: region, service: service, at: Date())
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers + signature.map({ ($0.name, $0.value) }) { request.headers.add(name: name, value: value) }
        request.body = .bytes(body)
        let response = try await http.execute(request, timeout: .seconds(10))
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

    public var description: String { "\(type) (\(status)): \(message)" }
}
