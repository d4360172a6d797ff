import Foundation

/// The token and subprotocol of an upgrade request, found as PROTOCOL.md §1 orders the sources:
/// `access_token` query parameter, `token` query parameter, the second `Sec-WebSocket-Protocol`
/// value after `websocket`, then `Authorization: Bearer`. Pure, so it is tested alone.
public struct ConnectCredentials: Equatable, Sendable {
    /// Why no credentials could be taken from a request.
    public enum Problem: Error, Equatable, Sendable {
        /// The first `Sec-WebSocket-Protocol` value is not `websocket` (`400 bad_subprotocol`).
        case badSubprotocol
        /// No source holds a non-empty token (`401 token_missing`).
        case missing

        /// The refusal a server sends for it (PROTOCOL.md §1).
        public var message: String {
            switch self {
            case .badSubprotocol: #"the first Sec-WebSocket-Protocol value must be "websocket""#
            case .missing: "no token: pass access_token, token, a subprotocol or a Bearer header"
            }
        }
    }

    public var token: String
    /// The client's own spelling of `websocket`, echoed in the handshake response.
    public var subprotocol: String?

    public static func extract(
        query: (String) -> String?,
        subprotocolHeader: String?,
        authorization: String?
    ) -> Result<ConnectCredentials, Problem> {
        var subprotocol: String?
        var subprotocolToken: String?
        if let subprotocolHeader {
            let values = subprotocolHeader.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let first = values.first, first.lowercased() == "websocket" else { return .failure(.badSubprotocol) }
            subprotocol = first
            subprotocolToken = values.dropFirst().first
        }
        let candidates = [query("access_token"), query("token"), subprotocolToken, bearer(authorization)]
        guard let token = candidates.lazy.compactMap({ $0 }).first(where: { !$0.isEmpty }) else {
            return .failure(.missing)
        }
        return .success(ConnectCredentials(token: token, subprotocol: subprotocol))
    }

    /// The credentials of an `Authorization: Bearer …` header; the scheme is case-insensitive.
    public static func bearer(_ header: String?) -> String? {
        guard let header else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        var credentials = parts[1]
        while credentials.first?.isWhitespace == true { credentials.removeFirst() }
        while credentials.last?.isWhitespace == true { credentials.removeLast() }
        return String(credentials)
    }
}
