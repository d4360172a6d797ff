/// How client tokens are verified (PROTOCOL.md §1): the keys, the accepted algorithms and the claims checked.
public struct TokenConfiguration: Sendable {
    /// The HMAC secret (HS256/384/512).
    public var secret: String?
    /// Path of a PEM file with an RSA, P-256, P-384 or Ed25519 public key (RS*/ES*/EdDSA).
    public var publicKeyFile: String?
    /// Dotted path of the claim listing the entities a token may subscribe to; nil turns
    /// subscription authorisation off (`--subscription-auth off`, the AWS quick start's behaviour).
    public var entitiesClaim: String?
    /// Longest token accepted (connect and `refresh`); longer ones are `token_invalid` before any parsing.
    public var maxBytes = 16_384
    /// A JWKS document in a file, for RS*/ES*/EdDSA keys by `kid`.
    public var jwksFile: String?
    /// A JWKS document at an HTTPS URL (the identity provider's `jwks_uri`).
    public var jwksURL: String?
    /// `--insecure-jwks-over-http-on-loopback`: also accept an `http://` JWKS URL whose host is a
    /// loopback address (tests only; logged as a warning at start).
    public var insecureJWKSOverHTTPOnLoopback = false
    /// The longest one JWKS fetch may take, redirects and body included (not a setting: a fixed
    /// bound, shorter in tests).
    public var jwksFetchTimeout: Duration = .seconds(10)
    /// How often the JWKS is read again.
    public var jwksRefreshInterval: Duration = .seconds(600)
    /// At most one refresh per this long when tokens name unknown key ids.
    public var jwksMinimumRefreshGap: Duration = .seconds(30)
    /// The required `iss`, when set (`claim_mismatch` otherwise).
    public var issuer: String?
    /// The audience `aud` must name, when set (`claim_mismatch` otherwise).
    public var audience: String?
    /// The only algorithms accepted; a token's own `alg` never widens this.
    public var algorithms = ["HS256", "HS384", "HS512"]
    /// Clock skew allowed on `exp`, `nbf` and `iat`.
    public var leeway: Duration = .seconds(30)
    /// Dotted path of the user id claim; `nil` means `data.userId`, then `sub`.
    public var identityClaim: String?
    public init() {}
}
