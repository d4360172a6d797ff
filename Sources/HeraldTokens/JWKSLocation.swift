import Foundation

/// Where a JWKS document may come from: keys fetched in the clear could be replaced on the way,
/// so only `https://`, unless the operator opts in, loudly, to plain `http://` to a server on this
/// machine (a test's identity provider). Redirects stay within the URL's origin.
public enum JWKSLocation {
    /// Why a URL may not be fetched.
    public enum Problem: Equatable, Sendable {
        /// Not an `http(s)://` URL with a host.
        case notAnHTTPSURL
        /// Plain `http://`, not opted in.
        case plainHTTP
        /// Plain `http://`, opted in, to a host that is not this machine.
        case plainHTTPToAnotherHost(String)
    }

    /// Why `url` may not be fetched; nil when it may.
    public static func problem(with url: String, insecureHTTPOnLoopback: Bool) -> Problem? {
        guard let origin = Origin(url) else { return .notAnHTTPSURL }
        switch origin.scheme {
        case "https": return nil
        case "http" where insecureHTTPOnLoopback: return isLoopback(origin.host) ? nil : .plainHTTPToAnotherHost(origin.host)
        case "http": return .plainHTTP
        default: return .notAnHTTPSURL
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
