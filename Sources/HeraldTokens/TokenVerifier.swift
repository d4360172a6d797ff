import ExtrasBase64
import Foundation
public import HeraldCore
import JWTKit

/// Who a verified token says the client is, and until when.
public struct Identity: Equatable, Sendable {
    public var userID: UserID
    /// The token's `exp`, in epoch seconds.
    public var expiresAt: Int
    /// The entities the token allows when subscription authorisation is on; nil when it is off.
    public var allowedEntities: EntityPatterns?

    public init(userID: UserID, expiresAt: Int, allowedEntities: EntityPatterns? = nil) {
        self.userID = userID
        self.expiresAt = expiresAt
        self.allowedEntities = allowedEntities
    }
}

/// Why a token was refused: the `reason` code of PROTOCOL.md §1 and a human message.
public struct TokenRejection: Error, Equatable, Sendable {
    public enum Reason: String, Sendable, CaseIterable {
        case missing = "token_missing"
        case invalid = "token_invalid"
        case expired = "token_expired"
        case notYetValid = "token_not_yet_valid"
        case claimMismatch = "claim_mismatch"
    }

    public var reason: Reason
    public var message: String
    /// The token names a key id the JWKS lacks: a refreshed key set might verify it.
    public var unknownKeyID: Bool

    public init(_ reason: Reason, _ message: String, unknownKeyID: Bool = false) {
        self.reason = reason
        self.message = message
        self.unknownKeyID = unknownKeyID
    }
}

/// Verifies client tokens: the signature with jwt-kit's algorithm for the token's `alg` (only
/// when that algorithm is configured and has a key), then the claim checks of PROTOCOL.md §1 (`exp`
/// required, `nbf` and `iat` honoured, leeway, `iss` and `aud` when configured) and the identity claim.
///
/// Verification is synchronous, so the connect path runs it on the event loop without a task:
/// jwt-kit's key collection (an actor, whose verify also decodes the claims with `Codable`) is
/// only asked for each algorithm's key, at start-up and on each JWKS refresh (`VerificationKeys`).
public struct TokenVerifier: Sendable {
    /// Every algorithm `--jwt-algorithms` may name; `none` is never one.
    public static let supportedAlgorithms = ["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "EdDSA"]
    /// The default list for a public key (OPERATIONS.md §2).
    public static let publicKeyDefaults = ["RS256", "ES256", "EdDSA"]

    /// Digest sizes, the shortest secret each HMAC algorithm accepts.
    static let digestBytes = ["HS256": 32, "HS384": 48, "HS512": 64]
    /// The shortest accepted secret.
    public static let minimumSecretBytes = 32

    private let keys: VerificationKeys
    private let leewaySeconds: Double
    private let identityClaim: String?
    private let issuer: String?
    private let audience: String?
    private let maxTokenBytes: Int
    private let entitiesClaim: String?

    /// - Parameter keys: the keys of the secret, the public key and the JWKS (shared with its refresher).
    public init(configuration: TokenConfiguration, keys: VerificationKeys) {
        self.keys = keys
        leewaySeconds = configuration.leeway.inSeconds
        identityClaim = configuration.identityClaim
        issuer = configuration.issuer
        audience = configuration.audience
        maxTokenBytes = configuration.maxBytes
        entitiesClaim = configuration.entitiesClaim
    }

    /// A verifier with the secret's and public key's keys (and a JWKS, once its keys are loaded).
    public init(configuration: TokenConfiguration) async throws(TokenError) {
        self.init(configuration: configuration, keys: try await VerificationKeys(configuration: configuration))
    }

    /// Verifies `token` at time `now`.
    public func verify(_ token: String, now: Date = Date()) -> Result<Identity, TokenRejection> {
        guard token.utf8.count <= maxTokenBytes else {
            return .failure(TokenRejection(.invalid, "the token is longer than \(maxTokenBytes) bytes"))
        }
        let parts = token.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 3, let header = Base64URL.decode(parts[0]).flatMap({ JSON.parse($0) }), case .string(let name)? = header["alg"] else {
            return .failure(TokenRejection(.invalid, "the token is not a well-formed JWT"))
        }
        let candidates: [any JWTAlgorithm]
        switch keys.lookup(alg: name, kid: header["kid"]?.stringValue) {
        case .keys(let found):
            candidates = found
        case .notAllowed:
            return .failure(TokenRejection(.invalid, "the token's algorithm is not allowed"))
        case .unknownKeyID:
            return .failure(TokenRejection(.invalid, "the token's key id is not in the key set", unknownKeyID: true))
        }
        let signingInput = Array(token.utf8[..<parts[1].endIndex])
        guard let signature = Base64URL.decode(parts[2]),
            candidates.contains(where: { (try? $0.verify(signature, signs: signingInput)) == true })
        else {
            return .failure(TokenRejection(.invalid, "the token's signature is invalid"))
        }
        guard let payload = Base64URL.decode(parts[1]), let claims = JSON.parse(payload) else {
            return .failure(TokenRejection(.invalid, "the token's claims are not JSON"))
        }
        return check(claims, now: now.timeIntervalSince1970)
    }

    /// The claim checks, separate from the signature so they can be tested alone.
    ///
    /// `exp`, `nbf` and `iat` must be NumericDates within `NumericDate.range` (a huge, negative or
    /// non-numeric value is `token_invalid`, never arithmetic on it).
    func check(_ claims: JSONValue, now: Double) -> Result<Identity, TokenRejection> {
        guard let expiry = claims["exp"] else {
            return .failure(TokenRejection(.invalid, "the token has no numeric \"exp\" claim"))
        }
        guard let exp = NumericDate(expiry) else { return .failure(Self.notANumericDate("exp")) }
        if now > exp.seconds + leewaySeconds {
            return .failure(TokenRejection(.expired, "the token has expired"))
        }
        for claim in ["nbf", "iat"] {
            guard let value = claims[claim] else { continue }
            guard let time = NumericDate(value) else { return .failure(Self.notANumericDate(claim)) }
            if time.seconds > now + leewaySeconds {
                return .failure(TokenRejection(.notYetValid, "the token is not valid yet"))
            }
        }
        if let issuer, claims["iss"]?.stringValue != issuer {
            return .failure(TokenRejection(.claimMismatch, "the token's \"iss\" claim is not the accepted issuer"))
        }
        if let audience, !Self.audience(claims["aud"], contains: audience) {
            return .failure(TokenRejection(.claimMismatch, "the token's \"aud\" claim does not name the accepted audience"))
        }
        guard let userID = identity(in: claims) else {
            return .failure(TokenRejection(.invalid, "the token names no user (data.userId or sub)"))
        }
        return .success(
            Identity(userID: userID, expiresAt: exp.wholeSeconds, allowedEntities: entitiesClaim.map { allowedEntities(in: claims, at: $0) })
        )
    }

    private static func notANumericDate(_ claim: String) -> TokenRejection {
        TokenRejection(
            .invalid,
            "the token's \"\(claim)\" claim is not a number of epoch seconds from 0 to \(Int(NumericDate.range.upperBound)) (the year 9999)"
        )
    }

    private func identity(in claims: JSONValue) -> UserID? {
        let paths = identityClaim.map { [$0] } ?? ["data.userId", "sub"]
        for path in paths {
            if let raw = claims.value(atPath: path)?.stringValue, let userID = UserID(raw) { return userID }
        }
        return nil
    }

    /// The entities claim: an array of ids and patterns, or one string. Missing or malformed allows nothing.
    private func allowedEntities(in claims: JSONValue, at path: String) -> EntityPatterns {
        switch claims.value(atPath: path) {
        case .string(let pattern)?: EntityPatterns([pattern])
        case .array(let values)?: EntityPatterns(values.compactMap(\.stringValue))
        default: EntityPatterns([])
        }
    }

    /// `aud` is one string or an array of strings (RFC 7519 §4.1.3).
    private static func audience(_ claim: JSONValue?, contains audience: String) -> Bool {
        switch claim {
        case .string(let value)?: value == audience
        case .array(let values)?: values.contains(.string(audience))
        default: false
        }
    }
}

/// Base64url without padding, as JWTs use it.
enum Base64URL {
    static func decode(_ text: some Collection<UInt8>) -> [UInt8]? {
        try? Base64.decode(bytes: text, options: [.base64UrlAlphabet, .omitPaddingCharacter])
    }
}
