/// What a server requires a signature to claim, beyond being made with one of its secrets: a
/// valid HMAC proves who signed, not that the request was meant for this server.
extension AWSSignatureV4 {
    public struct Expectations: Sendable, Equatable {
        /// The only service accepted in the credential scope.
        public var service: String
        /// The only region accepted in the credential scope.
        public var region: String
        /// The signed `Host` values accepted; empty accepts any. A name without a port matches that
        /// name with any port or none; `name:port` matches only that port. Letters match in any case.
        public var hosts: [String]

        public init(service: String, region: String, hosts: [String] = []) {
            self.service = service
            self.region = region
            self.hosts = hosts
        }
    }

    /// Throws `.refused` for the first expectation the request does not meet: the credential
    /// scope's service, then its region, then the signed `Host`, then `UNSIGNED-PAYLOAD` on a
    /// request that has a body (which would leave the body unsigned). Headers only.
    static func check(
        _ request: Request,
        authorization: Authorization,
        against expectations: Expectations
    ) throws(Failure) {
        let scope = authorization.scope
        guard scope.service == expectations.service else {
            throw .refused("the credential scope names service \(scope.service); only \(expectations.service) is accepted")
        }
        guard scope.region == expectations.region else {
            throw .refused("the credential scope names region \(scope.region); this server accepts \(expectations.region)")
        }
        if !expectations.hosts.isEmpty {
            // `host` is always signed (`Authorization` requires it), so this is the signed value.
            let host = try singleValue(of: "host", in: request.headers) ?? ""
            guard expectations.hosts.contains(where: { Self.host(host, matches: $0) }) else {
                throw .refused("the request was signed for host \(host); this server answers as \(expectations.hosts.joined(separator: ", "))")
            }
        }
        if try singleValue(of: "x-amz-content-sha256", in: request.headers) == unsignedPayload, hasBody(request) {
            throw .refused("X-Amz-Content-SHA256: UNSIGNED-PAYLOAD is not accepted on a request with a body; sign the body's SHA-256")
        }
    }

    /// A `Content-Length` other than 0, or any `Transfer-Encoding`.
    static func hasBody(_ request: Request) -> Bool {
        if !values(of: "transfer-encoding", in: request.headers).isEmpty { return true }
        return values(of: "content-length", in: request.headers).contains { Int($0.filter { $0 != " " }) != 0 }
    }

    /// `host` (`name` or `name:port`, IPv6 in brackets) against one accepted entry.
    static func host(_ host: String, matches accepted: String) -> Bool {
        let (name, port) = split(host.lowercased())
        let (acceptedName, acceptedPort) = split(accepted.lowercased())
        return name == acceptedName && (acceptedPort == nil || port == acceptedPort)
    }

    /// `name:port` → (name, port); `[::1]:80` → (`[::1]`, 80); no port → nil.
    private static func split(_ authority: String) -> (name: Substring, port: Substring?) {
        let bracket = authority.lastIndex(of: "]")
        guard let colon = authority.lastIndex(of: ":"), bracket.map({ $0 < colon }) ?? true else { return (authority[...], nil) }
        return (authority[..<colon], authority[authority.index(after: colon)...])
    }
}
