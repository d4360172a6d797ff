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

/// Why a token was refused: the `reason` code of SPEC §2 and a human message.
public struct TokenRejection: Error, Equatable, Sendable {
    public enum Reason: String, Sendable {
        case missing = "token_missing"
        case invalid = "token_invalid"
        case expired = "token_expired"
        case notYetValid = "token_not_yet_valid"
        case claimMismatch = "claim_mismatch"
    }

    public var reason: Reason
    public var message: String

    public init(_ reason: Reason, _ message: String) {
        self.reason = reason
        self.message = message
    }
}

/// Verifies client tokens: the signature with jwt-kit's algorithm for the token's `alg` (only
/// when that algorithm is configured and has a key), then the claim checks of SPEC §2 (`exp`
/// required, `nbf` and `iat` honoured, leeway, `iss` and `aud` when configured) and the identity claim.
///
/// Verification is synchronous, so the connect path runs it on the event loop without a task:
/// jwt-kit's key collection (an actor, whose verify also decodes the claims with `Codable`) is
/// only asked, once at start-up, for each algorithm's key.
public struct TokenVerifier: Sendable {
    /// The HMAC algorithms and their digests.
    static let hmacAlgorithms: [String: DigestAlgorithm] = ["HS256": .sha256, "HS384": .sha384, "HS512": .sha512]
    /// The RSA (PKCS #1 v1.5) algorithms and their digests.
    static let rsaAlgorithms: [String: DigestAlgorithm] = ["RS256": .sha256, "RS384": .sha384, "RS512": .sha512]
    /// Every algorithm `--jwt-algorithms` may name; `none` is never one.
    public static let supportedAlgorithms = ["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "EdDSA"]
    /// The default list for a public key (SPEC §6).
    public static let publicKeyDefaults = ["RS256", "ES256", "EdDSA"]

    /// Digest sizes, the shortest secret each HMAC algorithm accepts.
    static let digestBytes = ["HS256": 32, "HS384": 48, "HS512": 64]
    /// The shortest accepted secret.
    public static let minimumSecretBytes = 32

    private let algorithms: [String: any JWTAlgorithm]
    private let leewaySeconds: Double
    private let identityClaim: String?
    private let issuer: String?
    private let audience: String?
    private let maxTokenBytes: Int
    private let entitiesClaim: String?

    /// Builds a verifier from the configured secret and public key; a public key that none of the
    /// configured algorithms can use is a configuration error.
    public init(configuration: HeraldConfiguration.Tokens) async throws(HeraldError) {
        let publicKey = try configuration.publicKeyFile.map(Self.readPEM)
        var algorithms: [String: any JWTAlgorithm] = [:]
        for name in configuration.algorithms {
            algorithms[name] = await Self.algorithm(name, secret: configuration.secret, publicKeyPEM: publicKey)
        }
        if publicKey != nil, !algorithms.keys.contains(where: { Self.hmacAlgorithms[$0] == nil }) {
            throw HeraldError(
                .invalidConfiguration,
                "--jwt-public-key holds no RSA (2048 bits or more), P-256, P-384 or Ed25519 public key usable by --jwt-algorithms \(configuration.algorithms.joined(separator: ","))"
            )
        }
        self.algorithms = algorithms
        leewaySeconds = Double(configuration.leeway.components.seconds)
            + Double(configuration.leeway.components.attoseconds) / 1e18
        identityClaim = configuration.identityClaim
        issuer = configuration.issuer
        audience = configuration.audience
        maxTokenBytes = configuration.maxBytes
        entitiesClaim = configuration.entitiesClaim
    }

    /// jwt-kit's algorithm `name` keyed with the secret or the public key, or nil when neither fits it.
    private static func algorithm(_ name: String, secret: String?, publicKeyPEM pem: String?) async -> (any JWTAlgorithm)? {
        let keys = JWTKeyCollection()
        if let digest = hmacAlgorithms[name] {
            // jwt-kit wants an HMAC key at least as long as the digest: an algorithm whose digest is
            // longer than the secret is not offered (its tokens are refused as not allowed).
            guard let secret, secret.utf8.count >= digestBytes[name, default: 64] else { return nil }
            await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: digest)
        } else if let digest = rsaAlgorithms[name] {
            guard let pem, let key = try? Insecure.RSA.PublicKey(pem: pem) else { return nil }
            await keys.add(rsa: key, digestAlgorithm: digest)
        } else if name == "ES256" {
            guard let pem, let key = try? ES256PublicKey(pem: pem) else { return nil }
            await keys.add(ecdsa: key)
        } else if name == "ES384" {
            guard let pem, let key = try? ES384PublicKey(pem: pem) else { return nil }
            await keys.add(ecdsa: key)
        } else if name == "EdDSA" {
            guard let pem, let key = try? EdDSA.PublicKey(pem: pem) else { return nil }
            await keys.add(eddsa: key)
        }
        // The key decides the algorithm (a P-256 key is ES256 whatever was asked): keep exact matches only.
        guard let algorithm = try? await keys.getKey(alg: name), algorithm.name == name else { return nil }
        return algorithm
    }

    private static func readPEM(_ path: String) throws(HeraldError) -> String {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw HeraldError(.invalidConfiguration, "--jwt-public-key: cannot read a PEM file at \(path)")
        }
        return text
    }

    /// Verifies `token` at time `now`.
    public func verify(_ token: String, now: Date = Date()) -> Result<Identity, TokenRejection> {
        guard token.utf8.count <= maxTokenBytes else {
            return .failure(TokenRejection(.invalid, "the token is longer than \(maxTokenBytes) bytes"))
        }
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
        if let issuer, claims["iss"]?.stringValue != issuer {
            return .failure(TokenRejection(.claimMismatch, "the token's \"iss\" claim is not the accepted issuer"))
        }
        if let audience, !Self.audience(claims["aud"], contains: audience) {
            return .failure(TokenRejection(.claimMismatch, "the token's \"aud\" claim does not name the accepted audience"))
        }
        guard let userID = identity(in: claims) else {
            return .failure(TokenRejection(.invalid, "the token names no user (data.userId or sub)"))
        }
        return .success(Identity(userID: userID, expiresAt: Int(exp), allowedEntities: entitiesClaim.map { allowedEntities(in: claims, at: $0) }))
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
