import Hummingbird

/// The keys accepted on the publish API, checked before a request body is read.
struct PublishKeys: Sendable {
    private let keys: [[UInt8]]
    /// Where refused keys are counted (`herald_auth_failures_total{reason="unauthorized"}`).
    let metrics: HeraldMetrics

    init(_ keys: [String], metrics: HeraldMetrics) {
        self.keys = keys.map { Array($0.utf8) }
        self.metrics = metrics
    }

    /// The middleware that guards a route group with these keys.
    var middleware: Middleware { Middleware(keys: self) }

    /// True when `authorization` is `Bearer <one of the keys>` (scheme case-insensitive).
    func accepts(authorization: String?) -> Bool {
        guard let presented = ConnectCredentials.bearer(authorization).map({ Array($0.utf8) }) else { return false }
        // Compare against every key, each in constant time, so timing tells nothing about which matched.
        return keys.map { Self.constantTimeEquals($0, presented) }.contains(true)
    }

    static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count)
        for index in 0..<max(a.count, b.count) {
            difference |= (index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0)
        }
        return difference == 0
    }

    /// Refuses a request without a valid key with `401` before anything else happens.
    struct Middleware: RouterMiddleware {
        let keys: PublishKeys

        func handle(
            _ request: Request,
            context: BasicRequestContext,
            next: (Request, BasicRequestContext) async throws -> Response
        ) async throws -> Response {
            guard keys.accepts(authorization: request.headers[.authorization]) else {
                keys.metrics.authFailed("unauthorized")
                return ConnectRejection(
                    .unauthorized, reason: "unauthorized", message: "a valid publish key is required: Authorization: Bearer <key>"
                ).response
            }
            return try await next(request, context)
        }
    }
}
