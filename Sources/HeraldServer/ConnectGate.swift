import Foundation
import Hummingbird

/// What an allowed upgrade carries into the session.
struct Admission: Sendable {
    var identity: Identity
    var subprotocol: String?
    var sourceIP: String
}

/// Decides, before the upgrade, whether a client may connect (SPEC §2).
struct ConnectGate: Sendable {
    let verifier: TokenVerifier
    let lifecycle: Lifecycle
    /// The WebSocket path; upgrades elsewhere are refused with 404.
    let path: String

    func admit(_ request: Request, sourceIP: String?) -> Result<Admission, ConnectRejection> {
        guard request.uri.path == path else {
            return .failure(ConnectRejection(.notFound, reason: "not_found", message: "no WebSocket endpoint at this path"))
        }
        if lifecycle.isDraining { return .failure(.draining) }
        let credentials = ConnectCredentials.extract(
            query: { request.uri.queryParameters[$0[...]].map(String.init) },
            subprotocolHeader: request.headers[values: .secWebSocketProtocol].joined(separator: ", ").nilIfEmpty,
            authorization: request.headers[.authorization]
        )
        switch credentials {
        case .failure(let rejection):
            return .failure(rejection)
        case .success(let credentials):
            switch verifier.verify(credentials.token) {
            case .failure(let rejection):
                return .failure(ConnectRejection(rejection))
            case .success(let identity):
                return .success(Admission(identity: identity, subprotocol: credentials.subprotocol, sourceIP: sourceIP ?? "unknown"))
            }
        }
    }

    /// For a request at the WebSocket path that is not an upgrade NIO accepts (no `Sec-WebSocket-Key`,
    /// a plain GET…): the credential problem if there is one, else `400 bad_upgrade`.
    func rejectRoute(_ request: Request) -> Response {
        switch admit(request, sourceIP: nil) {
        case .failure(let rejection): rejection.response
        case .success: ConnectRejection.badUpgrade.response
        }
    }
}

extension String {
    var nilIfEmpty: String? { isEmpty ? nil : self }
}
