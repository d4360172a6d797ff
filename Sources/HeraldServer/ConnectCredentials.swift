import Foundation

/// The token and subprotocol of an upgrade request, found as SPEC §2 orders the sources:
/// `access_token` query parameter, `token` query parameter, the second `Sec-WebSocket-Protocol`
/// value after `websocket`, then `Authorization: Bearer`. Pure, so it is tested alone.
struct ConnectCredentials: Equatable {
    var token: String
    /// The client's own spelling of `websocket`, echoed in the handshake response.
    var subprotocol: String?

    static func extract(
        query: (String) -> String?,
        subprotocolHeader: String?,
        authorization: String?
    ) -> Result<ConnectCredentials, ConnectRejection> {
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
            return .failure(ConnectRejection(TokenRejection(.missing, "no token: pass access_token, token, a subprotocol or a Bearer header")))
        }
        return .success(ConnectCredentials(token: token, subprotocol: subprotocol))
    }

    /// The credentials of an `Authorization: Bearer …` header; the scheme is case-insensitive.
    static func bearer(_ header: String?) -> String? {
        guard let header else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        var credentials = parts[1]
        while credentials.first?.isWhitespace == true { credentials.removeFirst() }
        while credentials.last?.isWhitespace == true { credentials.removeLast() }
        return String(credentials)
    }
}
