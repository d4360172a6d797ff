import HeraldTokens

/// The `jwks-url` setting's rule in the operator's words: what a URL that may not be fetched
/// should have been, and the setting that allows plain `http://` to this machine.
enum JWKSURLRule {
    /// The setting that allows plain `http://` to a loopback host.
    static let insecureOptIn = "insecure-jwks-over-http-on-loopback"

    /// The configuration error for `url`, or nil when it may be fetched.
    static func error(_ url: String, insecureHTTPOnLoopback: Bool) -> ConfigurationError? {
        JWKSLocation.problem(with: url, insecureHTTPOnLoopback: insecureHTTPOnLoopback).map {
            ConfigurationError.invalid("jwks-url", expected: expected($0))
        }
    }

    private static func expected(_ problem: JWKSLocation.Problem) -> String {
        switch problem {
        case .notAnHTTPSURL:
            "an https:// URL of a JWKS document"
        case .plainHTTP:
            "an https:// URL of a JWKS document (keys fetched over plain http:// can be replaced on the way; for a test identity provider on this machine only, set --\(insecureOptIn) true)"
        case .plainHTTPToAnotherHost(let host):
            "an https:// URL of a JWKS document: --\(insecureOptIn) allows http:// only to a loopback host (127.0.0.1, [::1] or localhost), not \(host)"
        }
    }
}
