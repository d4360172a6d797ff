import AWSSignature
import Foundation
import HeraldCore
import HeraldTokens
import Hummingbird
import NIOCore

/// The keys accepted on the publish, admin and `@connections` APIs, checked before a route runs.
///
/// A request presents a key as `Authorization: Bearer <key>`, or signs itself the way the AWS
/// SDKs do (SigV4) with a key as the secret access key, so a backend written for API Gateway's
/// Management API works unchanged (the access key id is not checked). A signature must also be
/// meant for this server: service `execute-api`, the configured region, a signed `Host` among the
/// node's public names when any are configured, and its body signed; and a signed request that
/// changes something is accepted once (`SignedRequestReplays`).
struct PublishKeys: Sendable {
    private let keys: [[UInt8]]
    private let secrets: [String]
    /// What a SigV4 signature must claim.
    let expectations: AWSSignatureV4.Expectations
    let replays = SignedRequestReplays()
    /// Where refused keys are counted (`herald_auth_failures_total{reason="unauthorized"}`).
    let metrics: HeraldMetrics

    /// The service API Gateway's Management API signs for, which AWS SDKs use for `@connections`.
    static let service = "execute-api"

    init(_ keys: [String], region: String, publicHosts: [String], metrics: HeraldMetrics) {
        self.keys = keys.map { Array($0.utf8) }
        self.secrets = keys
        self.expectations = AWSSignatureV4.Expectations(service: Self.service, region: region, hosts: publicHosts)
        self.metrics = metrics
    }

    /// The middleware that guards a route group with these keys.
    var middleware: Middleware { Middleware(keys: self) }

    /// True when `authorization` is `Bearer <one of the keys>` (scheme case-insensitive).
    func accepts(authorization: String?) -> Bool {
        PublishAPI.accepts(ConnectCredentials.bearer(authorization), keys: keys)
    }

    func precheckSignature(of request: Request) -> Result<Void, AWSSignatureV4.Failure> {
        AWSSignatureV4.precheck(Self.signed(request, bodySHA256Hex: ""), secrets: secrets, now: Date().timeIntervalSince1970, expecting: expectations)
    }

    /// Checks a SigV4-signed request (whose body is `body`) against the keys and the expectations,
    /// then that it is not a replay.
    func verifySignature(of request: Request, body: ByteBuffer) -> Result<Void, AWSSignatureV4.Failure> {
        let signed = Self.signed(request, bodySHA256Hex: AWSSignatureV4.sha256Hex(body.readableBytesView))
        let now = Date().timeIntervalSince1970
        switch AWSSignatureV4.verify(signed, secrets: secrets, now: now, expecting: expectations) {
        case .failure(let failure): return .failure(failure)
        case .success(let signature): return replays.accept(signature, method: request.method, now: now) ? .success(()) : .failure(.replayed)
        }
    }

    /// The request as SigV4 sees it.
    private static func signed(_ request: Request, bodySHA256Hex: String) -> AWSSignatureV4.Request {
        let target = request.head.path ?? "/"
        let query = target.firstIndex(of: "?")
        var headers = request.headers.map { (name: $0.name.canonicalName, value: $0.value) }
        // HTTP/1.1's Host header is the request's authority in HTTPTypes.
        if let authority = request.head.authority { headers.append((name: "host", value: authority)) }
        return AWSSignatureV4.Request(
            method: request.method.rawValue,
            rawPath: String(target[..<(query ?? target.endIndex)]),
            rawQuery: query.map { String(target[target.index(after: $0)...]) } ?? "",
            headers: headers,
            bodySHA256Hex: bodySHA256Hex
        )
    }

    /// Refuses a request without a valid key with `401` before the route runs. A Bearer key is
    /// checked before the body is read. A SigV4 signature covers the body's hash, so its headers
    /// are checked first (syntax, credential scope — service, region —, `X-Amz-Date` within the
    /// skew, the signed `Host`, no `UNSIGNED-PAYLOAD` with a body, signed headers present, and the
    /// signature itself when `X-Amz-Content-SHA256` declares the payload); only a request that
    /// passes has its body read (at most `PublishRoutes.maxBodyBytes`) and verified.
    /// Every refusal says `Connection: close`: the body it did not read is not read on.
    struct Middleware: RouterMiddleware {
        let keys: PublishKeys

        func handle(
            _ request: Request,
            context: BasicRequestContext,
            next: (Request, BasicRequestContext) async throws -> Response
        ) async throws -> Response {
            let authorization = request.headers[.authorization]
            if keys.accepts(authorization: authorization) { return try await next(request, context) }
            guard authorization?.hasPrefix(AWSSignatureV4.algorithm) == true else {
                throw refusal("a valid publish key is required: Authorization: Bearer <key>")
            }
            if case .failure(let failure) = keys.precheckSignature(of: request) { throw refusal(failure) }
            let body = try await RequestBody.collect(request, limit: PublishRoutes.maxBodyBytes)
            switch keys.verifySignature(of: request, body: body) {
            case .success:
                var request = request
                request.body = .init(buffer: body)
                return try await next(request, context)
            case .failure(let failure):
                throw refusal(failure)
            }
        }

        private func refusal(_ failure: AWSSignatureV4.Failure) -> HTTPRefusal {
            switch failure {
            case .malformed(let problem), .expired(let problem): refusal("the AWS signature cannot be checked: \(problem)")
            case .notSigV4, .signatureMismatch:
                refusal("the AWS signature does not match any publish key (use a publish key as the secret access key)")
            case .refused(let problem): refusal("the AWS signature is not accepted: \(problem)")
            case .replayed:
                refusal(
                    "the AWS signature was already used: a signed request that changes something is accepted once within 15 minutes; sign it again"
                )
            }
        }

        /// `401`, counted; the body was not read (or not trusted), so the connection closes.
        private func refusal(_ message: String) -> HTTPRefusal {
            keys.metrics.authFailed("unauthorized")
            return HTTPRefusal(.unauthorized, reason: "unauthorized", message: message).closing
        }
    }
}
