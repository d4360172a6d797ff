import Foundation
public import HeraldCore
import JWTKit

/// Who a verified token says the client is, and until when.
public struct Identity: Equatable, Sendable {
    public var userID: UserID
    /// The token's `exp`, in epoch seconds.
    public var expiresAt: Int

    public init(userID: UserID, expiresAt: Int) {
        self.userID = userID
        self.expiresAt = expiresAt
    }
}

/// Why a token was refused: the `reason` code of SPEC §2 and a human message.
public struct TokenRejection: Error, Equatable, Sendable {
    public enum Reason: String, Sendable {
        case missing = "token_missing"
        case invalid = "token_invalid"
        case expired = "token_expired"
        case notYetValid = "token_not_yet_valid"
    }

    public var reason: Reason
    public var message: String

    public init(_ reason: Reason, _ message: String) {
        self.reason = reason
        self.message = message
    }
}

/// Verifies client tokens with jwt-kit: one key collection per allowed algorithm, chosen by the
/// token's `alg` header only when that algorithm is configured, then the claim checks of SPEC §2
/// (`exp` required, `nbf` and `iat` honoured, leeway) and the identity claim.
public struct TokenVerifier: Sendable {
    /// The HMAC algorithms and their digests.
    static let hmacAlgorithms: [String: DigestAlgorithm] = ["HS256": .sha256, "HS384": .sha384, "HS512": .sha512]

    /// Digest sizes, the shortest secret each HMAC algorithm accepts.
    static let digestBytes = ["HS256": 32, "HS384": 48, "HS512": 64]
    /// The shortest accepted secret.
    public static let minimumSecretBytes = 32

    private let keysByAlgorithm: [String: JWTKeyCollection]
    private let leewaySeconds: Double
    private let identityClaim: String?

    public init(configuration: HeraldConfiguration.Tokens) async {
        var keys: [String: JWTKeyCollection] = [:]
        if let secret = configuration.secret {
            // jwt-kit wants an HMAC key at least as long as the digest: an algorithm whose digest is
            // longer than the secret is not offered (its tokens are refused as not allowed).
            for algorithm in configuration.algorithms {
                guard let digest = Self.hmacAlgorithms[algorithm], secret.utf8.count >= Self.digestBytes[algorithm, default: 64]
                else { continue }
                keys[algorithm] = await JWTKeyCollection(defaultJWTParser: DefaultJWTParser(jsonDecoder: ClaimsDecoder()))
                    .add(hmac: HMACKey(from: secret), digestAlgorithm: digest)
            }
        }
        keysByAlgorithm = keys
        leewaySeconds = Double(configuration.leeway.components.seconds)
            + Double(configuration.leeway.components.attoseconds) / 1e18
        identityClaim = configuration.identityClaim
    }

    /// Verifies `token` at time `now`.
    public func verify(_ token: String, now: Date = Date()) async -> Result<Identity, TokenRejection> {
        guard let algorithm = Self.algorithm(of: token) else {
            return .failure(TokenRejection(.invalid, "the token is not a well-formed JWT"))
        }
        guard let keys = keysByAlgorithm[algorithm] else {
            return .failure(TokenRejection(.invalid, "the token's algorithm is not allowed"))
        }
        let claims: JSONValue
        do {
            claims = try await keys.verify(token, as: Claims.self).json
        } catch {
            return .failure(TokenRejection(.invalid, "the token's signature or encoding is invalid"))
        }
        return check(claims, now: now.timeIntervalSince1970)
    }

    /// The claim checks, separate from the signature so they can be tested alone.
    func check(_ claims: JSONValue, now: Double) -> Result<Identity, TokenRejection> {
        guard let exp = Self.number(claims["exp"]) else {
            return .failure(TokenRejection(.invalid, "the token has no numeric \"exp\" claim"))
        }
        if now > exp + leewaySeconds {
            return .failure(TokenRejection(.expired, "the token has expired"))
        }
        for claim in ["nbf", "iat"] {
            guard let value = claims[claim] else { continue }
            guard let time = Self.number(value) else {
                return .failure(TokenRejection(.invalid, "the token's \"\(claim)\" claim is not a number"))
            }
            if time > now + leewaySeconds {
                return .failure(TokenRejection(.notYetValid, "the token is not valid yet"))
            }
        }
        guard let userID = identity(in: claims) else {
            return .failure(TokenRejection(.invalid, "the token names no user (data.userId or sub)"))
        }
        return .success(Identity(userID: userID, expiresAt: Int(exp)))
    }

    private func identity(in claims: JSONValue) -> UserID? {
        let paths = identityClaim.map { [$0] } ?? ["data.userId", "sub"]
        for path in paths {
            if let raw = claims.value(atPath: path)?.stringValue, let userID = UserID(raw) { return userID }
        }
        return nil
    }

    private static func number(_ value: JSONValue?) -> Double? {
        switch value {
        case .int(let number)?: Double(number)
        case .double(let number)?: number
        default: nil
        }
    }

    /// The `alg` of a compact JWT's header, without trusting anything else in it.
    static func algorithm(of token: String) -> String? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let header = Base64URL.decode(parts[0]), case .string(let alg)? = JSON.parse(header)?["alg"]
        else { return nil }
        return alg
    }
}

/// jwt-kit's JSON decoder, with `Claims` parsed by `JSON.parse` instead of `Codable`
/// (several times cheaper; the connect path's largest cost otherwise).
private struct ClaimsDecoder: JWTJSONDecoder {
    private static let fallback: any JWTJSONDecoder = .defaultForJWT

    func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        guard type == Claims.self else { return try Self.fallback.decode(type, from: data) }
        guard let json = JSON.parse(data), let claims = Claims(json: json) as? T else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "the claims are not JSON"))
        }
        return claims
    }
}

/// Any claims set, kept as JSON; the checks are `TokenVerifier`'s, not the payload's.
struct Claims: JWTPayload {
    var json: JSONValue

    init(json: JSONValue) { self.json = json }
    init(from decoder: any Decoder) throws { json = try JSONValue(from: decoder) }
    func encode(to encoder: any Encoder) throws { try json.encode(to: encoder) }
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// Base64url without padding, as JWTs use it.
enum Base64URL {
    static func decode(_ text: some StringProtocol) -> [UInt8]? {
        var base64 = String(text).replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64).map(Array.init)
    }
}
