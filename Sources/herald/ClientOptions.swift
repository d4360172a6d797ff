import ArgumentParser
import Foundation

/// Where the client commands reach Herald and with which credentials: flags, then `HERALD_*`
/// environment variables, then the credentials a local `serve --dev` saved.
struct ClientOptions: ParsableArguments {
    @Option(help: "Herald's URL (HERALD_URL; default http://127.0.0.1:8080).")
    var url: String?

    @Option(name: .customLong("jwt-secret"), help: "HMAC secret used to sign test tokens (HERALD_JWT_SECRET).")
    var jwtSecret: String?

    @Option(name: .customLong("publish-key"), help: "Publish key (HERALD_PUBLISH_KEYS; the first is used).")
    var publishKey: String?

    private var environment: [String: String] { ProcessInfo.processInfo.environment }

    var resolvedURL: String {
        url ?? environment["HERALD_URL"] ?? DevCredentials.load()?.url ?? "http://127.0.0.1:8080"
    }

    func resolvedSecret() throws -> String {
        guard let secret = jwtSecret ?? environment["HERALD_JWT_SECRET"] ?? DevCredentials.load()?.jwtSecret else {
            throw CommandFailure("no token secret: pass --jwt-secret or set HERALD_JWT_SECRET (or start `herald serve --dev`)")
        }
        return secret
    }

    func resolvedPublishKey() throws -> String {
        let fromEnvironment = environment["HERALD_PUBLISH_KEYS"]?.split(separator: ",").first.map(String.init)
        guard let key = publishKey ?? fromEnvironment ?? DevCredentials.load()?.publishKey else {
            throw CommandFailure("no publish key: pass --publish-key or set HERALD_PUBLISH_KEYS (or start `herald serve --dev`)")
        }
        return key
    }
}
