import Foundation

/// Where a JWKS document may come from (`--jwks-url`): keys fetched in the clear could be replaced
/// on the way, so only `https://`, unless the operator opts in, loudly, to plain `http://` to a
/// server on this machine (a test's identity provider). Redirects stay within the URL's origin.
public enum JWKSLocation {
    /// The setting that allows plain `http://` to a loopback host.
    public static let insecureOptIn = "insecure-jwks-over-http-on-loopback"

    /// What `url` should have been, when it may not be fetched; nil when it may.
    public static func problem(with url: String, insecureHTTPOnLoopback: Bool) -> String? {
        guard let origin = Origin(url) else { return "an https:// URL of a JWKS document" }
        switch origin.scheme {
        case "https":
            return nil
        case "http" where insecureHTTPOnLoopback:
            guard isLoopback(origin.host) else {
                return
                    "an https:// URL of a JWKS document: --\(insecureOptIn) allows http:// only to a loopback host (127.0.0.1, [::1] or localhost), not \(origin.host)"
            }
            return nil
        case "http":
            return
                "an https:// URL of a JWKS document (keys fetched over plain http:// can be replaced on the way; for a test identity provider on this machine only, set --\(insecureOptIn) true)"
        default:
            return "an https:// URL of a JWKS document"
        }
    }

    /// `localhost`, `::1` or an address in 127.0.0.0/8.
    static func isLoopback(_ host: String) -> Bool {
        let host = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        if host == "localhost" || host == "::1" { return true }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false).map { UInt8($0) }
        return octets.count == 4 && octets.allSatisfy { $0 != nil } && octets[0] == 127
    }

    /// Scheme, host and port (the scheme's default when none is written), lowercased.
    public struct Origin: Equatable, Sendable, CustomStringConvertible {
        public var scheme: String
        public var host: String
        public var port: Int

        public init?(_ url: String) {
            guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
                let host = components.host?.lowercased(), !host.isEmpty
            else { return nil }
            guard let port = components.port ?? ["https": 443, "http": 80][scheme] else { return nil }
            (self.scheme, self.host, self.port) = (scheme, host, port)
        }

        public var description: String {
            let name = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
            return "\(scheme)://\(name):\(port)"
        }
    }
}
