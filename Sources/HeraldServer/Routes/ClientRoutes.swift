import HeraldCore
import HeraldTokens
import Hummingbird
import NIOCore

/// `GET /herald.js`, the JavaScript client, for pages on any origin (module scripts are fetched
/// with CORS, hence `Access-Control-Allow-Origin: *`; the file holds no secret); and, in
/// development on a loopback address, the console page and the test tokens it asks for.
struct ClientRoutes: Sendable {
    /// What the console needs: the development secret (to sign test tokens) and publish key.
    struct Console: Equatable, Sendable {
        var secret: String
        var publishKey: String
    }

    /// Set with `--dev` when the server listens on a loopback address only.
    let console: Console?

    func add(to router: Router<BasicRequestContext>) {
        // `/herald.js`: the JavaScript client (docs/CLIENT.md), an ES module with no build step, embedded from Resources/herald.js.
        let script = ByteBuffer(bytes: PackageResources.herald_js)
        router.get("herald.js") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/javascript; charset=utf-8", .cacheControl: "public, max-age=300", .accessControlAllowOrigin: "*"],
                body: ResponseBody(byteBuffer: script)
            )
        }
        guard let console else { return }
        let page = ByteBuffer(string: ConsolePage.html(publishKey: console.publishKey))
        // Only under this machine's own names: a DNS-rebinding page reaches the same socket under its own.
        let local = router.group().add(middleware: LoopbackHostMiddleware())
        local.get("console") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                body: ResponseBody(byteBuffer: page)
            )
        }
        local.get("console/token") { request, _ in
            var claims = TokenIssuer.Claims()
            if let user = request.uri.queryParameters["userId"] {
                guard UserID(String(user)) != nil else {
                    throw HTTPRefusal.badRequest("invalid_query", "userId must be \(EntityID.rule)")
                }
                claims.userID = String(user)
            }
            var body = JSONObjectWriterBody()
            body.add("authToken", try await TokenIssuer(secret: console.secret).token(for: claims))
            return body.response(status: .ok)
        }
    }

    /// The console's settings when `configuration` allows it: development mode, a secret, a
    /// publish key, and a loopback listen address (the page holds the publish key).
    static func console(for configuration: HeraldConfiguration) -> Console? {
        guard configuration.isDevelopment, ["127.0.0.1", "::1", "localhost"].contains(configuration.listen.host),
            let secret = configuration.tokens.secret, let publishKey = configuration.publishKeys.first
        else { return nil }
        return Console(secret: secret, publishKey: publishKey)
    }
}

/// Refuses, with `403 host_not_allowed`, a request whose `Host` is not `localhost`, `127.0.0.1` or `[::1]`.
private struct LoopbackHostMiddleware: RouterMiddleware {
    func handle(
        _ request: Request,
        context: BasicRequestContext,
        next: (Request, BasicRequestContext) async throws -> Response
    ) async throws -> Response {
        guard let host = request.head.authority, Loopback.isAuthority(host) else {
            throw HTTPRefusal(
                .forbidden,
                reason: "host_not_allowed",
                message: "the development console answers only to localhost, 127.0.0.1 and [::1]"
            )
        }
        return try await next(request, context)
    }
}

extension HeraldConfiguration {
    /// Whether `/console` is served: `--dev` on a loopback address.
    public var servesConsole: Bool { ClientRoutes.console(for: self) != nil }
}
