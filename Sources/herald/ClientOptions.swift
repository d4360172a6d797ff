import ArgumentParser
import Configuration
import Foundation
import HeraldCore
import HeraldServer

/// Where the client commands reach Herald and with which credentials: the same configuration as
/// `serve` reads — flags, then `HERALD_*` environment variables, then the `--config` file — and
/// last the credentials a local `serve --dev` saved.
struct ClientOptions: ParsableArguments {
    @Option(help: "Herald's URL (HERALD_URL; default: the configuration's host and port, else http://127.0.0.1:8080).")
    var url: String?

    @Option(name: .customLong("jwt-secret"), help: "HMAC secret used to sign test tokens (HERALD_JWT_SECRET).")
    var jwtSecret: String?

    @Option(name: .customLong("publish-key"), help: "Publish key (HERALD_PUBLISH_KEY; the first is used).")
    var publishKey: String?

    @Option(help: "The YAML file `serve` reads (HERALD_CONFIG): its jwt-secret, publish-key, host, port and TLS apply.")
    var config: String?

    private var environment: [String: String] { ProcessInfo.processInfo.environment }

    /// `serve`'s configuration layers, with this command's flags on top.
    private func reader() throws -> ConfigReader {
        var flags: [String: ConfigContent] = [:]
        if let jwtSecret { flags["jwt-secret"] = .string(jwtSecret) }
        if let publishKey { flags["publish-key"] = .stringArray([publishKey]) }
        do {
            let file = try (config ?? environment["HERALD_CONFIG"]).map(ConfigurationFile.load) ?? [:]
            return HeraldConfiguration.reader(flags: flags, environment: environment, file: file)
        } catch {
            throw CommandFailure(error.description)
        }
    }

    /// The URL given, else the one the configuration's host, port and TLS make (a wildcard host
    /// reached on loopback), else the saved dev server's.
    func resolvedURL() throws -> String {
        if let given = url ?? environment["HERALD_URL"] { return given }
        let reader = try reader()
        if let port = reader.string(forKey: ConfigKey(["port"])) {
            var host = reader.string(forKey: ConfigKey(["host"])) ?? "127.0.0.1"
            if host == "0.0.0.0" || host == "::" { host = "127.0.0.1" }
            if host.contains(":") { host = "[\(host)]" }
            let scheme = reader.string(forKey: ConfigKey(["tls-cert"])) == nil ? "http" : "https"
            return "\(scheme)://\(host):\(port)"
        }
        return DevCredentials.load()?.url ?? "http://127.0.0.1:8080"
    }

    func resolvedSecret() throws -> String {
        guard let secret = try reader().string(forKey: ConfigKey(["jwt-secret"])) ?? DevCredentials.load()?.jwtSecret else {
            throw CommandFailure(
                "no token secret: pass --jwt-secret, set HERALD_JWT_SECRET or jwt-secret in the --config file (or start `herald serve --dev`)"
            )
        }
        return secret
    }

    func resolvedPublishKey() throws -> String {
        let reader = try reader()
        let configured =
            reader.stringArray(forKey: ConfigKey(["publish-key"]))?.first
            ?? reader.string(forKey: ConfigKey(["publish-key"]))?.split(separator: ",").first.map { String($0).trimmingCharacters(in: .whitespaces) }
        guard let key = configured ?? DevCredentials.load()?.publishKey else {
            throw CommandFailure(
                "no publish key: pass --publish-key, set HERALD_PUBLISH_KEY or publish-key in the --config file (or start `herald serve --dev`)"
            )
        }
        return key
    }
}
