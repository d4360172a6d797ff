/// Which browser pages may open a WebSocket: the `Origin` a browser sends with every upgrade
/// (other clients may send none, and are not refused for it).
enum OriginPolicy: Sendable, Equatable {
    /// Any origin (no `--allowed-origin` outside development).
    case any
    /// Only these origins (`--allowed-origin`), lowercased.
    case only(Set<String>)
    /// `--dev` without `--allowed-origin`: the console's own origins, a loopback host name on
    /// the server's own port, so a page on another site cannot use a developer's server.
    case loopback

    init(allowedOrigins: [String], isDevelopment: Bool) {
        if !allowedOrigins.isEmpty {
            self = .only(Set(allowedOrigins.map { $0.lowercased() }))
        } else {
            self = isDevelopment ? .loopback : .any
        }
    }

    /// Whether a page from `origin` may connect to the server listening on `port`.
    func allows(_ origin: String, serverPort: Int?) -> Bool {
        switch self {
        case .any: true
        case .only(let origins): origins.contains(origin.lowercased())
        case .loopback: Loopback.isOrigin(origin, onPort: serverPort)
        }
    }
}
