import ExtrasBase64
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

/// Verifies client tokens: the signature with jwt-kit's algorithm for the token's `alg` (only
/// when that algorithm is configured), then the claim checks of SPEC §2 (`exp` required, `nbf`
/// and `iat` honoured, leeway) and the identity claim.
///
/// Verification is synchronous, so the connect path runs it on the event loop without a task:
/// jwt-kit's key collection (an actor, whose verify also decodes the claims with `Codable`) is
/// only asked, once at start-up, for each algorithm's key.
public struct TokenVerifier: Sendable {
    /// The HMAC algorithms and their digests.
    static let hmacAlgorithms: [String: DigestAlgorithm] = ["HS256": .sha256, "HS384": .sha384, "HS512": .sha512]

    /// Digest sizes, the shortest secret each HMAC algorithm accepts.
    static let digestBytes = ["HS256": 32, "HS384": 48, "HS512": 64]
    /// The shortest accepted secret.
    public static let minimumSecretBytes = 32

    private let algorithms: [String: any JWTAlgorithm]
    private let leewaySeconds: Double
    private let identityClaim: String?

    public init(configuration: HeraldConfiguration.Tokens) async {
        var algorithms: [String: any JWTAlgorithm] = [:]
        if let secret = configuration.secret {
            // jwt-kit wants an HMAC key at least as long as the digest: an algorithm whose digest is
            // longer than the secret is not offered (its tokens are refused as not allowed).
            for name in configuration.algorithms {
                guard let digest = Self.hmacAlgorithms[name], secret.utf8.count >= Self.digestBytes[name, default: 64]
                else { continue }
                let keys = await JWTKeyCollection().add(hmac: HMACKey(from: secret), digestAlgorithm: digest)
                algorithms[name] = try? await keys.getKey(alg: name)
            }
        }
        self.algorithms = algorithms
        leewaySeconds = Double(configuration.leeway.components.seconds)
            + Double(configuration.leeway.components.attoseconds) / 1e18
        identityClaim = configuration.identityClaim
    }

    /// Verifies `token` at time `now`.
    public func verify(_ token: String, now: Date = Date()) -> Result<Identity, TokenRejection> {
        let parts = token.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 3, let header = Base64URL.decode(parts[0]), case .string(let name)? = JSON.parse(header)?["alg"] else {
            return .failure(TokenRejection(.invalid, "the token is not a well-formed JWT"))
        }
        guard let algorithm = algorithms[name] else {
            return .failure(TokenRejection(.invalid, "the token's algorithm is not allowed"))
        }
        let signingInput = Array(token.utf8[..<parts[1].endIndex])
        guard let signature = Base64URL.decode(parts[2]), (try? algorithm.verify(signature, signs: signingInput)) == true else {
            return .failure(TokenRejection(.invalid, "the token's signature is invalid"))
        }
        guard let payload = Base64URL.decode(parts[1]), let claims = JSON.parse(payload) else {
            return .failure(TokenRejection(.invalid, "the token's claims are not JSON"))
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
}

/// Base64url without padding, as JWTs use it.
enum Base64URL {
    static func decode(_ text: some Collection<UInt8>) -> [UInt8]? {
        try? Base64.decode(bytes: text, options: [.base64UrlAlphabet, .omitPaddingCharacter])
    }
}
