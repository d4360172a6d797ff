import Crypto
public import Foundation

/// Signing an outgoing request as botocore does (header form), for Herald's own calls to AWS
/// services (DynamoDB, Secrets Manager, API Gateway's Management API).
extension AWSSignatureV4 {
    /// Who signs: an access key and its secret, and the session token of temporary credentials
    /// (what a Lambda function's role gives it).
    public struct Credentials: Sendable {
        public var accessKeyID: String
        public var secretAccessKey: String
        public var sessionToken: String?

        public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
            self.accessKeyID = accessKeyID
            self.secretAccessKey = secretAccessKey
            self.sessionToken = sessionToken
        }

        /// The standard environment variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`).
        public init?(environment: [String: String]) {
            guard let id = environment["AWS_ACCESS_KEY_ID"], let secret = environment["AWS_SECRET_ACCESS_KEY"] else { return nil }
            self.init(accessKeyID: id, secretAccessKey: secret, sessionToken: environment["AWS_SESSION_TOKEN"])
        }
    }

    /// The headers to add to `request` to sign it: `X-Amz-Date`, `X-Amz-Security-Token` with a
    /// session token, and `Authorization`. `request.headers` must hold `Host`; it, `Content-Type`
    /// and every `X-Amz-*` header are signed (botocore leaves `User-Agent` and the like out).
    public static func signature(
        for request: Request,
        credentials: Credentials,
        region: String,
        service: String,
        at date: Date
    ) -> [(name: String, value: String)] {
        let timestamp = date.formatted(Self.amzDate)
        let scope = CredentialScope(date: String(timestamp.prefix(8)), region: region, service: service)
        var added = [(name: "X-Amz-Date", value: timestamp)]
        if let token = credentials.sessionToken { added.append((name: "X-Amz-Security-Token", value: token)) }
        var signing = request
        signing.headers += added
        let signedHeaders = Set(signing.headers.map { $0.name.lowercased() })
            .filter { $0 == "host" || $0 == "content-type" || $0.hasPrefix("x-amz-") }
            .sorted()
        // The request's own headers are all present, so the canonical form cannot fail.
        let canonical = (try? canonicalRequest(signing, signedHeaders: signedHeaders)) ?? ""
        let stringToSign = Self.stringToSign(canonicalRequest: canonical, timestamp: timestamp, scope: scope)
        let signature = hex(
            HMAC<SHA256>.authenticationCode(for: Array(stringToSign.utf8), using: signingKey(secret: credentials.secretAccessKey, scope: scope))
        )
        let authorization =
            "\(algorithm) Credential=\(credentials.accessKeyID)/\(scope.stringValue), SignedHeaders=\(signedHeaders.joined(separator: ";")), Signature=\(signature)"
        return added + [(name: "Authorization", value: authorization)]
    }

    /// `yyyyMMdd'T'HHmmss'Z'` in UTC.
    private static let amzDate = Date.ISO8601FormatStyle(
        dateSeparator: .omitted,
        dateTimeSeparator: .standard,
        timeSeparator: .omitted,
        timeZone: .gmt
    )
}
