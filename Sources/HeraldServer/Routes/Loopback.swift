import Foundation

/// The names of this machine a development page may be reached by: `localhost`, `127.0.0.1`
/// and `[::1]`. A DNS-rebinding page reaches the same socket under its own name, which these
/// checks refuse.
enum Loopback {
    private static let hosts: Set<String> = ["localhost", "127.0.0.1", "[::1]"]

    /// True when a `Host` header (`host` or `host:port`) names this machine.
    static func isAuthority(_ authority: String) -> Bool {
        split(authority).map { hosts.contains($0.host) } ?? false
    }

    /// True when `origin` (`scheme://host[:port]`) is a page of this machine on `port`, or a
    /// WebSocket client on this machine that names its own target as `ws://host` (as
    /// swift-websocket's client, and so `herald listen`, does; browsers only send `http(s)` or `null`).
    static func isOrigin(_ origin: String, onPort port: Int?) -> Bool {
        guard let separator = origin.range(of: "://") else { return false }
        let scheme = origin[..<separator.lowerBound].lowercased()
        guard let parts = split(origin[separator.upperBound...]), hosts.contains(parts.host) else { return false }
        switch scheme {
        case "http": return (parts.port ?? 80) == port
        case "https": return (parts.port ?? 443) == port
        case "ws", "wss": return true
        default: return false
        }
    }

    /// `host[:port]` split; the host lowercased, an IPv6 host in its brackets. Nil when malformed.
    private static func split(_ authority: some StringProtocol) -> (host: String, port: Int?)? {
        let text = authority.lowercased()
        let hostEnd = text.hasPrefix("[") ? text.firstIndex(of: "]").map(text.index(after:)) : text.firstIndex(of: ":") ?? text.endIndex
        guard let hostEnd else { return nil }
        let host = String(text[..<hostEnd])
        let rest = text[hostEnd...]
        if rest.isEmpty { return (host, nil) }
        guard rest.first == ":", let port = Int(rest.dropFirst()), (0...65_535).contains(port) else { return nil }
        return (host, port)
    }
}
