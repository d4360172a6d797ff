import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import Synchronization

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

    func admit(_ request: Request, context: HeraldRequestContext) async -> Result<Admission, ConnectRejection> {
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
            switch await verifier.verify(credentials.token) {
            case .failure(let rejection):
                return .failure(ConnectRejection(rejection))
            case .success(let identity):
                let sourceIP = context.remoteAddress?.ipAddress ?? "unknown"
                return .success(Admission(identity: identity, subprotocol: credentials.subprotocol, sourceIP: sourceIP))
            }
        }
    }

    /// On the WebSocket router: admits the request or answers the rejection (which makes
    /// Hummingbird hand the request to the HTTP router, where `rejectRoute` explains it).
    struct Middleware: RouterMiddleware {
        let gate: ConnectGate

        func handle(
            _ request: Request,
            context: HeraldRequestContext,
            next: (Request, HeraldRequestContext) async throws -> Response
        ) async throws -> Response {
            switch await gate.admit(request, context: context) {
            case .failure(let rejection):
                return rejection.response
            case .success(let admission):
                var context = context
                context.admission = admission
                return try await next(request, context)
            }
        }
    }

    /// On the HTTP router, for a request at the WebSocket path that was not upgraded:
    /// the rejection, or `400 bad_upgrade` when the credentials were fine but the upgrade was not.
    func rejectRoute(_ request: Request, context: HeraldRequestContext) async -> Response {
        switch await admit(request, context: context) {
        case .failure(let rejection): rejection.response
        case .success: ConnectRejection.badUpgrade.response
        }
    }
}

extension String {
    var nilIfEmpty: String? { isEmpty ? nil : self }
}
