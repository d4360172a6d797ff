import Crypto

/// AWS Signature Version 4: verifies an incoming request as the AWS SDKs sign them, and signs an
/// outgoing one the same way (`AWSSignatureV4+Signing.swift`). No listed package does either
/// (the AWS SDKs for Swift are not among them), so this is Herald's own, on swift-crypto.
///
/// Canonicalisation reproduces botocore's `SigV4Auth` (1.43) byte for byte, so
/// requests from boto3 and the AWS CLI verify unchanged:
/// - the canonical URI is `quote(normalize_url_path(wirePath), safe='/~')`: dot
///   segments and empty segments are removed from the path as received, then every
///   byte outside `A-Z a-z 0-9 - _ . ~ /` is percent-encoded again, so `%3D` on the
///   wire is signed as `%253D` and `@` as `%40`;
/// - the canonical query is the wire query split on `&` and the first `=` (a bare
///   `flag` becomes `flag=`), sorted by key then value, and neither decoded nor
///   re-encoded;
/// - the canonical headers are the ones named in `SignedHeaders`, each value split on
///   whitespace and re-joined with single spaces, repeated headers joined by `,`;
/// - the payload line is the `X-Amz-Content-SHA256` header when present, otherwise
///   the SHA-256 of the received body.
///
/// Only header-based signing with `X-Amz-Date` is supported (no presigned query
/// strings, no `Date` header fallback, no `aws-chunked` streaming payloads).
public struct AWSSignatureV4 {
    /// An incoming HTTP request, as received on the wire.
    public struct Request: Sendable {
        /// The HTTP method, e.g. `"POST"`.
        public var method: String
        /// The path exactly as on the wire, before `?`, still percent-encoded, e.g. `"/@connections/abc%3D"`.
        public var rawPath: String
        /// The query after `?`, as on the wire (`""` when none).
        public var rawQuery: String
        /// Every header as received (names in any case; repeated names possible).
        public var headers: [(name: String, value: String)]
        /// Lowercase hex SHA-256 of the body the server received (see ``AWSSignatureV4/sha256Hex(_:)``).
        public var bodySHA256Hex: String

        public init(method: String, rawPath: String, rawQuery: String, headers: [(name: String, value: String)], bodySHA256Hex: String) {
            self.method = method
            self.rawPath = rawPath
            self.rawQuery = rawQuery
            self.headers = headers
            self.bodySHA256Hex = bodySHA256Hex
        }
    }

    /// Why a request failed verification.
    public enum Failure: Error, Equatable, Sendable {
        /// The `Authorization` header is absent or does not start with `AWS4-HMAC-SHA256`;
        /// the caller may try another scheme such as `Bearer`.
        case notSigV4
        /// The SigV4 headers cannot be parsed or violate a rule; the message says which.
        case malformed(String)
        /// `X-Amz-Date` is further from the server's clock than the allowed skew.
        case expired(String)
        /// The signature matches none of the secrets, or a declared
        /// `X-Amz-Content-SHA256` differs from the hash of the received body.
        case signatureMismatch
        /// The request breaks the server's `Expectations` (service, region, host, unsigned body);
        /// the message says which.
        case refused(String)
        /// The signature was accepted before and its `X-Amz-Date` is still within the skew (`ReplayCache`).
        case replayed
    }

    public static let algorithm = "AWS4-HMAC-SHA256"
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"

    /// Succeeds with the signature when the request's signature matches one of `secrets` (each
    /// tried as an AWS secret access key; the access key id is ignored) and, when given, the
    /// request meets `expectations`.
    ///
    /// - Parameters:
    ///   - now: the server's clock, in seconds since 1970.
    ///   - maxSkewSeconds: how far `X-Amz-Date` may be from `now` (AWS allows 15 minutes).
    public static func verify(
        _ request: Request,
        secrets: [String],
        now: Double,
        maxSkewSeconds: Double = 900,
        expecting expectations: Expectations? = nil
    ) -> Result<Signature, Failure> {
        do {
            let (authorization, timestamp) = try checkHeaders(request, now: now, maxSkewSeconds: maxSkewSeconds, expecting: expectations)
            try checkSignature(request, authorization: authorization, timestamp: timestamp, secrets: secrets)
            return .success(Signature(bytes: authorization.signature, expiresAt: timestamp.secondsSince1970 + Int(maxSkewSeconds.rounded(.up))))
        } catch {
            return .failure(error)
        }
    }

    /// Checks what a request's headers alone can prove, so that a request which cannot be right is
    /// refused before its body is read: the scheme, the header syntax, the credential scope (its
    /// date is `X-Amz-Date`'s day), the clock skew, the signed headers present, and the
    /// `X-Amz-Content-SHA256` value. When that header declares the payload (its hash, or
    /// `UNSIGNED-PAYLOAD`), the signature itself is checked too. `request.bodySHA256Hex` is not used.
    ///
    /// Success only means the body is worth reading: ``verify(_:secrets:now:maxSkewSeconds:)``
    /// must still pass once it is.
    public static func precheck(
        _ request: Request,
        secrets: [String],
        now: Double,
        maxSkewSeconds: Double = 900,
        expecting expectations: Expectations? = nil
    ) -> Result<Void, Failure> {
        do {
            let (authorization, timestamp) = try checkHeaders(request, now: now, maxSkewSeconds: maxSkewSeconds, expecting: expectations)
            _ = try canonicalHeaders(request.headers, signedHeaders: authorization.signedHeaders)
            guard let declared = try singleValue(of: "x-amz-content-sha256", in: request.headers) else {
                return .success(())  // the signature covers the body's hash: it needs the body
            }
            var declaring = request
            declaring.bodySHA256Hex = declared.lowercased()
            try checkSignature(declaring, authorization: authorization, timestamp: timestamp, secrets: secrets)
            return .success(())
        } catch {
            return .failure(error)
        }
    }

    /// Lowercase hex SHA-256 of `bytes`, for ``Request/bodySHA256Hex``.
    public static func sha256Hex(_ bytes: some Sequence<UInt8>) -> String {
        hex(SHA256.hash(data: Array(bytes)))
    }

    /// The parsed `Authorization` and `X-Amz-Date`, within the skew, and meeting `expectations`.
    /// Throws the first rule the request breaks, in the order: scheme, header syntax, clock skew,
    /// expectations; `checkSignature` then checks the signed headers present, the payload hash and
    /// the signature.
    private static func checkHeaders(
        _ request: Request,
        now: Double,
        maxSkewSeconds: Double,
        expecting expectations: Expectations?
    ) throws(Failure) -> (Authorization, Timestamp) {
        let authorization = try Authorization(parsing: request.headers)
        let timestamp = try Timestamp(parsing: request.headers, scope: authorization.scope)
        try timestamp.checkSkew(now: now, maxSkewSeconds: maxSkewSeconds)
        if let expectations { try check(request, authorization: authorization, against: expectations) }
        return (authorization, timestamp)
    }

    /// The signed headers present, the payload hash, and a signature matching one of `secrets`.
    private static func checkSignature(
        _ request: Request,
        authorization: Authorization,
        timestamp: Timestamp,
        secrets: [String]
    ) throws(Failure) {
        let canonical = try canonicalRequest(request, signedHeaders: authorization.signedHeaders)
        let stringToSign = Self.stringToSign(canonicalRequest: canonical, timestamp: timestamp.stringValue, scope: authorization.scope)
        // Every secret is tried, so the time taken does not reveal which one matched.
        let matches = secrets.map { secret in
            HMAC<SHA256>.isValidAuthenticationCode(
                authorization.signature,
                authenticating: Array(stringToSign.utf8),
                using: signingKey(secret: secret, scope: authorization.scope)
            )
        }
        guard matches.contains(true) else { throw .signatureMismatch }
    }
}

// MARK: - Authorization header

extension AWSSignatureV4 {
    /// The `Credential` scope: `AKID/yyyyMMdd/region/service/aws4_request` (the access key id is not kept).
    struct CredentialScope {
        var date: String
        var region: String
        var service: String

        /// The scope as it appears in the string to sign, without the access key id.
        var stringValue: String { "\(date)/\(region)/\(service)/aws4_request" }

        init(date: String, region: String, service: String) {
            (self.date, self.region, self.service) = (date, region, service)
        }

        init(parsing credential: Substring) throws(Failure) {
            let parts = credential.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 5, parts[4] == "aws4_request" else {
                throw .malformed("Credential must be AKID/yyyyMMdd/region/service/aws4_request")
            }
            guard !parts[0].isEmpty, !parts[2].isEmpty, !parts[3].isEmpty else {
                throw .malformed("Credential has an empty access key id, region or service")
            }
            guard parts[1].utf8.count == 8, parts[1].utf8.allSatisfy(isDigit) else {
                throw .malformed("Credential date must be yyyyMMdd")
            }
            (date, region, service) = (parts[1], parts[2], parts[3])
        }
    }

    /// A parsed `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…` header.
    struct Authorization {
        var scope: CredentialScope
        /// Lowercase header names, sorted and unique, always including `host`.
        var signedHeaders: [String]
        /// The 32 signature bytes decoded from hex.
        var signature: [UInt8]

        /// Throws `.notSigV4` when there is no SigV4 `Authorization` header.
        init(parsing headers: [(name: String, value: String)]) throws(Failure) {
            let values = AWSSignatureV4.values(of: "authorization", in: headers)
            guard let value = values.first, value.hasPrefix(AWSSignatureV4.algorithm) else { throw .notSigV4 }
            guard values.count == 1 else { throw .malformed("repeated Authorization header") }
            let fields = try Self.fields(of: value.dropFirst(AWSSignatureV4.algorithm.count))
            scope = try CredentialScope(parsing: Self.field("Credential", in: fields))
            signedHeaders = try Self.signedHeaders(parsing: Self.field("SignedHeaders", in: fields))
            signature = try Self.signature(parsing: Self.field("Signature", in: fields))
        }

        /// Splits ` Credential=…, SignedHeaders=…, Signature=…` into its `name=value` fields.
        private static func fields(of parameters: Substring) throws(Failure) -> [Substring: Substring] {
            guard parameters.first == " " else {
                throw .malformed("expected a space after \(AWSSignatureV4.algorithm)")
            }
            var fields: [Substring: Substring] = [:]
            for field in parameters.split(separator: ",", omittingEmptySubsequences: false) {
                let field = field.trimmingSpaces
                guard let equals = field.firstIndex(of: "=") else {
                    throw .malformed("Authorization field '\(field)' has no '='")
                }
                let name = field[..<equals]
                guard fields.updateValue(field[field.index(after: equals)...], forKey: name) == nil else {
                    throw .malformed("repeated Authorization field \(name)")
                }
            }
            return fields
        }

        private static func field(_ name: Substring, in fields: [Substring: Substring]) throws(Failure) -> Substring {
            guard let value = fields[name] else { throw .malformed("Authorization has no \(name)") }
            return value
        }

        private static func signedHeaders(parsing list: Substring) throws(Failure) -> [String] {
            let names = list.split(separator: ";", omittingEmptySubsequences: false).map(String.init)
            guard names.allSatisfy({ !$0.isEmpty && $0 == $0.lowercased() }) else {
                throw .malformed("SignedHeaders must be non-empty lowercase header names")
            }
            guard zip(names, names.dropFirst()).allSatisfy({ $0.utf8.lexicographicallyPrecedes($1.utf8) }) else {
                throw .malformed("SignedHeaders must be sorted and unique")
            }
            guard names.contains("host") else { throw .malformed("SignedHeaders must include host") }
            return names
        }

        private static func signature(parsing hexDigits: Substring) throws(Failure) -> [UInt8] {
            let digits = Array(hexDigits.utf8)
            guard digits.count == 64, let bytes = decodeLowercaseHex(digits) else {
                throw .malformed("Signature must be 64 lowercase hex digits")
            }
            return bytes
        }
    }
}

// MARK: - X-Amz-Date

extension AWSSignatureV4 {
    /// The request's `X-Amz-Date` (`yyyyMMdd'T'HHmmss'Z'`, UTC).
    struct Timestamp {
        /// The header value, as it appears in the string to sign.
        var stringValue: String
        var secondsSince1970: Int

        /// Reads `X-Amz-Date` and checks that its day is the credential scope's date.
        init(parsing headers: [(name: String, value: String)], scope: CredentialScope) throws(Failure) {
            guard let value = try AWSSignatureV4.singleValue(of: "x-amz-date", in: headers) else {
                throw .malformed("missing X-Amz-Date header")
            }
            guard let seconds = Self.secondsSince1970(parsing: value) else {
                throw .malformed("X-Amz-Date '\(value)' is not yyyyMMdd'T'HHmmss'Z'")
            }
            guard value.hasPrefix(scope.date) else {
                throw .malformed("Credential date \(scope.date) does not match X-Amz-Date \(value)")
            }
            (stringValue, secondsSince1970) = (value, seconds)
        }

        func checkSkew(now: Double, maxSkewSeconds: Double) throws(Failure) {
            let skew = (now - Double(secondsSince1970)).magnitude
            guard skew <= maxSkewSeconds else {
                throw .expired(
                    "X-Amz-Date \(stringValue) is \(Self.describe(skew)) s from the server clock;"
                        + " at most \(Self.describe(maxSkewSeconds)) s allowed"
                )
            }
        }

        /// Whole seconds when representable (never traps on infinity or NaN).
        private static func describe(_ seconds: Double) -> String {
            Int(exactly: seconds.rounded()).map(String.init) ?? "\(seconds)"
        }

        /// Parses `yyyyMMdd'T'HHmmss'Z'`, or returns nil when it is not a valid instant.
        private static func secondsSince1970(parsing value: String) -> Int? {
            let chars = Array(value.utf8)
            guard chars.count == 16, chars[8] == UInt8(ascii: "T"), chars[15] == UInt8(ascii: "Z") else { return nil }
            func number(_ range: Range<Int>) -> Int? {
                let digits = chars[range]
                guard digits.allSatisfy(isDigit) else { return nil }
                return digits.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
            }
            guard let year = number(0..<4), let month = number(4..<6), let day = number(6..<8),
                let hour = number(9..<11), let minute = number(11..<13), let second = number(13..<15),
                (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day),
                hour < 24, minute < 60, second < 60
            else { return nil }
            return daysSince1970(year: year, month: month, day: day) * 86_400 + hour * 3_600 + minute * 60 + second
        }

        private static func daysIn(month: Int, year: Int) -> Int {
            let isLeap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
            return [31, isLeap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        }

        /// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `days_from_civil`, years ≥ 0).
        private static func daysSince1970(year: Int, month: Int, day: Int) -> Int {
            let y = month <= 2 ? year - 1 : year
            let era = (y >= 0 ? y : y - 399) / 400
            let yearOfEra = y - era * 400
            let dayOfYear = (153 * ((month + 9) % 12) + 2) / 5 + day - 1
            let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
            return era * 146_097 + dayOfEra - 719_468
        }
    }
}

// MARK: - Canonical request and signing

extension AWSSignatureV4 {
    /// The canonical request botocore builds for `request`, given its parsed `Authorization`.
    static func canonicalRequest(_ request: Request, signedHeaders: [String]) throws(Failure) -> String {
        [
            request.method.uppercased(),
            canonicalURI(request.rawPath),
            canonicalQuery(request.rawQuery),
            try canonicalHeaders(request.headers, signedHeaders: signedHeaders),
            signedHeaders.joined(separator: ";"),
            try payloadHash(request),
        ].joined(separator: "\n")
    }

    /// botocore's `quote(normalize_url_path(path), safe='/~')`.
    static func canonicalURI(_ rawPath: String) -> String {
        var encoded = ""
        for byte in removingDotSegments(rawPath).utf8 {
            if isUnreserved(byte) || byte == UInt8(ascii: "/") {
                encoded.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                encoded += "%" + hex([byte]).uppercased()
            }
        }
        return encoded
    }

    /// botocore's `normalize_url_path`: RFC 3986 dot-segment removal that also drops empty segments.
    static func removingDotSegments(_ path: String) -> String {
        guard !path.isEmpty else { return "/" }
        var segments: [Substring] = []
        for segment in path.split(separator: "/") where segment != "." {
            if segment == ".." {
                _ = segments.popLast()
            } else {
                segments.append(segment)
            }
        }
        let leading = path.hasPrefix("/") ? "/" : ""
        let trailing = path.hasSuffix("/") && !segments.isEmpty ? "/" : ""
        return leading + segments.joined(separator: "/") + trailing
    }

    /// botocore's `_canonical_query_string_url`: wire pairs sorted by key, then value, kept verbatim.
    static func canonicalQuery(_ rawQuery: String) -> String {
        guard !rawQuery.isEmpty else { return "" }
        let pairs = rawQuery.split(separator: "&", omittingEmptySubsequences: false).map { pair in
            let equals = pair.firstIndex(of: "=")
            return (key: pair[..<(equals ?? pair.endIndex)], value: equals.map { pair[pair.index(after: $0)...] } ?? "")
        }
        return
            pairs
            .sorted { lhs, rhs in
                lhs.key == rhs.key
                    ? lhs.value.utf8.lexicographicallyPrecedes(rhs.value.utf8)
                    : lhs.key.utf8.lexicographicallyPrecedes(rhs.key.utf8)
            }
            .map { "\($0.key)=\($0.value)" }
            .joined(separator: "&")
    }

    /// One `name:value` line per signed header, followed by an empty line.
    static func canonicalHeaders(
        _ headers: [(name: String, value: String)],
        signedHeaders: [String]
    ) throws(Failure) -> String {
        var lines: [String] = []
        for name in signedHeaders {
            let values = values(of: name, in: headers)
            guard !values.isEmpty else { throw .malformed("signed header \(name) is missing from the request") }
            lines.append(name + ":" + values.map(collapsingWhitespace).joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// botocore's `' '.join(value.split())`: trims and collapses runs of Python whitespace.
    static func collapsingWhitespace(_ value: String) -> String {
        value.unicodeScalars
            .split(whereSeparator: { $0.properties.isWhitespace || (0x1C...0x1F).contains($0.value) })
            .map { String($0) }
            .joined(separator: " ")
    }

    /// The payload line: `X-Amz-Content-SHA256` when present (which must then be
    /// `UNSIGNED-PAYLOAD` or the body's hash), otherwise the body's hash.
    static func payloadHash(_ request: Request) throws(Failure) -> String {
        guard let declared = try singleValue(of: "x-amz-content-sha256", in: request.headers) else {
            return request.bodySHA256Hex
        }
        guard declared != unsignedPayload else { return declared }
        let digits = Array(declared.lowercased().utf8)
        guard digits.count == 64, decodeLowercaseHex(digits) != nil else {
            throw .malformed("unsupported X-Amz-Content-SHA256 value '\(declared)'")
        }
        guard declared.lowercased() == request.bodySHA256Hex else { throw .signatureMismatch }
        return declared
    }

    static func stringToSign(canonicalRequest: String, timestamp: String, scope: CredentialScope) -> String {
        [algorithm, timestamp, scope.stringValue, sha256Hex(canonicalRequest.utf8)].joined(separator: "\n")
    }

    /// HMAC chain `AWS4` + secret → date → region → service → `aws4_request`.
    static func signingKey(secret: String, scope: CredentialScope) -> SymmetricKey {
        [scope.date, scope.region, scope.service, "aws4_request"].reduce(
            SymmetricKey(data: Array("AWS4\(secret)".utf8))
        ) { key, part in
            SymmetricKey(data: Array(HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: key)))
        }
    }
}

// MARK: - Helpers

extension AWSSignatureV4 {
    /// Values of every header named `lowercaseName` (case-insensitively), in the order received.
    static func values(of lowercaseName: String, in headers: [(name: String, value: String)]) -> [String] {
        headers.filter { $0.name.lowercased() == lowercaseName }.map(\.value)
    }

    /// The value of a header that may appear at most once.
    static func singleValue(of lowercaseName: String, in headers: [(name: String, value: String)]) throws(Failure) -> String? {
        let values = values(of: lowercaseName, in: headers)
        guard values.count <= 1 else { throw .malformed("repeated \(lowercaseName) header") }
        return values.first
    }

    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var result: [UInt8] = []
        for byte in bytes {
            result.append(digits[Int(byte >> 4)])
            result.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: result, as: UTF8.self)
    }

    /// Decodes lowercase hex digits, or returns nil on any other character or an odd count.
    static func decodeLowercaseHex(_ digits: [UInt8]) -> [UInt8]? {
        func nibble(_ digit: UInt8) -> UInt8? {
            switch digit {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
            default: nil
            }
        }
        guard digits.count.isMultiple(of: 2) else { return nil }
        var bytes: [UInt8] = []
        for index in stride(from: 0, to: digits.count, by: 2) {
            guard let high = nibble(digits[index]), let low = nibble(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
        }
        return bytes
    }

    static func isDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    /// RFC 3986 unreserved characters, which botocore's `quote` never encodes.
    static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"),
            UInt8(ascii: "."), UInt8(ascii: "~"):
            true
        default:
            false
        }
    }
}

extension Substring {
    /// The substring without leading and trailing spaces.
    fileprivate var trimmingSpaces: Substring {
        guard let first = firstIndex(where: { $0 != " " }), let last = lastIndex(where: { $0 != " " }) else { return "" }
        return self[first...last]
    }
}
