import HeraldTokens

extension HeraldConfiguration {
    /// The form `jwt-secret` must have.
    static let secretForm = "a secret of at least \(TokenVerifier.minimumSecretBytes) bytes (64 for HS512)"

    /// What a server cannot start without, however the configuration was made (read from the
    /// settings, or in code as the tests and embedders make one): a token key, a secret long
    /// enough, a publish key, and a JWKS URL that may be fetched.
    func checkStartable() throws(ConfigurationError) {
        guard tokens.secret?.isEmpty == false || tokens.publicKeyFile != nil || tokens.jwksFile != nil || tokens.jwksURL != nil else {
            throw ConfigurationError(
                .missingSetting,
                "no token key: set --jwt-secret (HERALD_JWT_SECRET), --jwt-public-key, --jwks-file or --jwks-url, or run with --dev"
            )
        }
        if let secret = tokens.secret, secret.utf8.count < TokenVerifier.minimumSecretBytes {
            throw ConfigurationError.invalid("jwt-secret", expected: Self.secretForm)
        }
        guard !publishKeys.isEmpty else {
            throw ConfigurationError(.missingSetting, "no publish key: set --publish-key (HERALD_PUBLISH_KEY), or run with --dev")
        }
        if let url = tokens.jwksURL, let error = JWKSURLRule.error(url, insecureHTTPOnLoopback: tokens.insecureJWKSOverHTTPOnLoopback) {
            throw error
        }
    }
}
