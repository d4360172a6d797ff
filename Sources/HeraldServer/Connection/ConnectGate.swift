import HTTPTypes
import HeraldCore
import HeraldTokens
import Hummingbird
import NIOCore

/// What the gate reads of an upgrade request: Hummingbird's `Request` (a GET at the WebSocket
/// path that NIO did not upgrade) or an `UpgradeRequestHead` read by `ConnectHandshake`.
protocol UpgradeRequestFields: Sendable {
    /// The target's path (before `?`), as sent.
    var upgradePath: Substring { get }
    /// The first query parameter `name`, percent-decoded.
    func queryParameter(_ name: String) -> String?
    /// The values of header `name`, joined with `, `; nil when absent.
    func headerValue(_ name: HTTPField.Name) -> String?
}

extension Request: UpgradeRequestFields {
    var upgradePath: Substring { uri.path[...] }
    func queryParameter(_ name: String) -> String? { uri.queryParameters[name[...]].map(String.init) }
    func headerValue(_ name: HTTPField.Name) -> String? {
        let values = headers[values: name]
        return values.isEmpty ? nil : values.joined(separator: ", ")
    }
}

extension UpgradeRequestHead: UpgradeRequestFields {
    var upgradePath: Substring { path }
    func headerValue(_ name: HTTPField.Name) -> String? { header(name.canonicalName) }
}

/// What an allowed upgrade carries into the session.
struct Admission: Sendable {
    var identity: Identity
    var subprotocol: String?
    /// Where the connection comes from (source address, User-Agent).
    var peer: WebSocketConnection.Peer
}

/// Decides, before the upgrade, whether a client may connect (PROTOCOL.md §1, OPERATIONS.md §2): path, draining,
/// handshakes per source address, browser origin, node capacity, token, then the user's own
/// connection limit.
///
/// The capacity checks read the hub's counts, so connects racing on different event loops
/// may pass a limit by the number of upgrades in flight at that instant.
struct ConnectGate: Sendable {
    let verifier: TokenVerifier
    /// The JWKS refresher, when a JWKS is configured.
    let keySet: KeySetRefresher?
    let lifecycle: Lifecycle
    let hub: Hub
    /// Where refused connects are counted, as `connect.<reason>`.
    let refusals: Refusals
    /// The WebSocket path; upgrades elsewhere are refused with 404.
    let path: String
    /// Which browser pages may connect.
    let origins: OriginPolicy
    let maxConnections: Int
    let maxConnectionsPerUser: Int
    let handshakes: HandshakeRateLimit

    init(
        verifier: TokenVerifier,
        keySet: KeySetRefresher?,
        lifecycle: Lifecycle,
        hub: Hub,
        refusals: Refusals,
        path: String,
        origins: OriginPolicy,
        limits: HeraldConfiguration.Limits
    ) {
        self.verifier = verifier
        self.keySet = keySet
        self.lifecycle = lifecycle
        self.hub = hub
        self.refusals = refusals
        self.path = path
        self.origins = origins
        maxConnections = limits.maxConnections
        maxConnectionsPerUser = limits.maxConnectionsPerUser
        handshakes = HandshakeRateLimit(perSecond: limits.maxHandshakesPerSecond)
    }

    /// Decides on `eventLoop`, at once — unless the token names a key id the JWKS lacks: then
    /// after one refresh of the key set (shared with other connects, rate-limited), it decides again.
    func admit(
        _ request: some UpgradeRequestFields,
        sourceIP: String?,
        serverPort: Int?,
        on eventLoop: any EventLoop
    ) -> EventLoopFuture<Result<Admission, HTTPRefusal>> {
        let loadsEnded = keySet?.loadsEnded ?? 0
        let decision = admit(request, sourceIP: sourceIP, serverPort: serverPort)
        guard case .failure(let rejection) = decision, rejection.awaitsKeyRefresh,
            let refresh = keySet?.refreshForUnknownKeyID(lookedUpAfter: loadsEnded)
        else {
            return eventLoop.makeSucceededFuture(counted(decision))
        }
        let refreshed = eventLoop.makePromise(of: Void.self)
        refreshed.completeWithTask { await refresh.value }
        // The second decision does not count the handshake against the address again.
        return refreshed.futureResult.map { counted(admit(request, sourceIP: sourceIP, serverPort: serverPort, countingHandshake: false)) }
    }

    private func counted(_ decision: Result<Admission, HTTPRefusal>) -> Result<Admission, HTTPRefusal> {
        if case .failure(let rejection) = decision { refusals.connectRefused(rejection) }
        return decision
    }

    func admit(
        _ request: some UpgradeRequestFields,
        sourceIP: String?,
        serverPort: Int?,
        countingHandshake: Bool = true
    ) -> Result<Admission, HTTPRefusal> {
        guard request.upgradePath == path else {
            return .failure(HTTPRefusal(.notFound, reason: "not_found", message: "no WebSocket endpoint at this path"))
        }
        if lifecycle.isDraining { return .failure(.draining) }
        if countingHandshake, let sourceIP, !handshakes.admit(sourceIP) { return .failure(.tooManyHandshakes) }
        // A browser always sends Origin; other clients may not, and are not refused for it.
        if let origin = request.headerValue(.origin), !origins.allows(origin, serverPort: serverPort) {
            return .failure(.originNotAllowed)
        }
        if maxConnections > 0, hub.connections >= maxConnections {
            return .failure(.overCapacity("this node is at its connection limit; try again later or another node"))
        }
        let credentials = ConnectCredentials.extract(
            query: { request.queryParameter($0) },
            subprotocolHeader: request.headerValue(.secWebSocketProtocol)?.nilIfEmpty,
            authorization: request.headerValue(.authorization)
        )
        switch credentials {
        case .failure(.badSubprotocol):
            return .failure(.badSubprotocol)
        case .failure(.missing):
            return .failure(HTTPRefusal(TokenRejection(.missing, ConnectCredentials.Problem.missing.message)))
        case .success(let credentials):
            switch verifier.verify(credentials.token) {
            case .failure(let rejection):
                return .failure(HTTPRefusal(rejection))
            case .success(let identity):
                if maxConnectionsPerUser > 0, hub.connections(of: identity.userID) >= maxConnectionsPerUser {
                    return .failure(.overCapacity("this user has the most connections allowed; close one first"))
                }
                return .success(
                    Admission(
                        identity: identity,
                        subprotocol: credentials.subprotocol,
                        peer: .init(sourceIP: sourceIP ?? "unknown", userAgent: request.headerValue(.userAgent))
                    )
                )
            }
        }
    }

    /// For a request at the WebSocket path that is not an upgrade NIO accepts (no `Sec-WebSocket-Key`,
    /// a plain GET…): the credential problem if there is one, else `400 bad_upgrade`.
    ///
    /// The answer says `Connection: close`: NIO's HTTP decoder stops parsing a connection after a
    /// request that asks for an upgrade, so a client that reused it would wait forever.
    func rejectRoute(_ request: Request) -> Response {
        var response: Response
        switch counted(admit(request, sourceIP: nil, serverPort: nil)) {
        case .failure(let rejection): response = rejection.response
        case .success: response = HTTPRefusal.badUpgrade.response
        }
        response.headers[.connection] = "close"
        return response
    }
}

extension String {
    var nilIfEmpty: String? { isEmpty ? nil : self }
}
