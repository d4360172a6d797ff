import Foundation
import HeraldCore
import JWTKit

/// Signs test tokens with the AWS quick start's claim layout — `CreateTestJwt`:
/// `{"exp": …, "data": {"userId", "firstName", "lastName", "sub"}}`.
public struct TokenIssuer: Sendable {
    /// The claims of one test token, with the AWS quick start's defaults.
    public struct Claims: Sendable {
        public var userID = "myuserid"
        public var firstName = "Test"
        public var lastName = "User"
        public var sub = "examplesub"
        public var ttl: Duration = .seconds(3600)
        /// An optional `nbf`; the AWS quick start's tokens have none.
        public var notBefore: Date?
        /// An optional `entities` claim (ids and `*` patterns) for subscription authorisation.
        public var entities: [String]?
        public init() {}
    }

    /// The longest lifetime a test token may have: a year.
    public static let maximumTTL: Duration = .seconds(365 * 86_400)

    private let secret: String
    private let algorithm: String

    public init(secret: String, algorithm: String = "HS256") {
        self.secret = secret
        self.algorithm = algorithm
    }

    /// A signed token for `claims`, expiring `ttl` after `now` (a negative `ttl` makes an expired
    /// token); a `ttl` longer than `maximumTTL` either way, or an `exp` or `nbf` that would not be
    /// a NumericDate, is refused.
    public func token(for claims: Claims = Claims(), now: Date = Date()) async throws -> String {
        guard claims.ttl <= Self.maximumTTL, claims.ttl >= .zero - Self.maximumTTL else {
            throw TokenError(.invalidTestToken, "a test token's lifetime must be within 365 days, not \(claims.ttl)")
        }
        let exp = now.timeIntervalSince1970 + claims.ttl.inSeconds
        let notBefore = claims.notBefore?.timeIntervalSince1970
        guard NumericDate.range.contains(exp), notBefore.map(NumericDate.range.contains) != false else {
            throw TokenError(.invalidTestToken, "a test token's exp and nbf must fall between 1970 and the year 9999")
        }
        guard let digest = VerificationKeys.hmacAlgorithms[algorithm],
            secret.utf8.count >= TokenVerifier.digestBytes[algorithm, default: 64]
        else {
            throw TokenError(
                .unusableKey,
                "\(algorithm) needs an HMAC secret of at least \(TokenVerifier.digestBytes[algorithm, default: 64]) bytes"
            )
        }
        let keys = await JWTKeyCollection().add(hmac: HMACKey(from: secret), digestAlgorithm: digest)
        let payload = SeedPayload(
            exp: Int(exp.rounded(.towardZero)),
            nbf: notBefore.map { Int($0.rounded(.towardZero)) },
            data: .init(userId: claims.userID, firstName: claims.firstName, lastName: claims.lastName, sub: claims.sub),
            entities: claims.entities
        )
        return try await keys.sign(payload)
    }
}

private struct SeedPayload: JWTPayload {
    struct Data: Codable, Sendable {
        var userId: String
        var firstName: String
        var lastName: String
        var sub: String
    }

    /// Whole epoch seconds, as the AWS quick start's tokens carry it.
    var exp: Int
    var nbf: Int?
    var data: Data
    var entities: [String]?

    func verify(using algorithm: some JWTAlgorithm) async throws {}
}
