public import Configuration
import Foundation
import HeraldCore
import HeraldTokens
import Logging

extension HeraldConfiguration {
    /// The configuration layers of OPERATIONS.md §2 in precedence order: flags, then `HERALD_*` environment
    /// variables, then the config file (defaults are below them all).
    /// - Parameters:
    ///   - flags: values given on the command line, by setting name (`port`, `jwt-secret`, `publish-key`…).
    ///   - environment: the process environment.
    ///   - file: the config file's values (`ConfigurationFile.load`), by setting name.
    public static func reader(
        flags: [String: ConfigContent],
        environment: [String: String],
        file: [String: ConfigContent] = [:]
    ) -> ConfigReader {
        ConfigReader(providers: [
            InMemoryProvider(name: "flags", values: values(flags)),
            // An empty variable (`HERALD_PORT=`) is unset, so it does not hide the file's value.
            EnvironmentVariablesProvider(environmentVariables: canonical(environment)).prefixKeys(with: "herald"),
            InMemoryProvider(name: "config file", values: values(file)),
        ])
    }

    /// The environment without empty variables, each earlier spelling of a setting's variable
    /// (`HERALD_PUBLISH_KEYS`) read as the setting's own (`HERALD_PUBLISH_KEY`) unless that is set too.
    private static func canonical(_ environment: [String: String]) -> [String: String] {
        var variables = environment.filter { !$0.value.isEmpty }
        for setting in Setting.all where variables[setting.environmentName] == nil {
            for alias in setting.aliases {
                if let value = variables[Setting.environmentName(of: alias)] { variables[setting.environmentName] = value }
            }
        }
        return variables
    }

    private static func values(_ settings: [String: ConfigContent]) -> [AbsoluteConfigKey: Configuration.ConfigValue] {
        var values: [AbsoluteConfigKey: Configuration.ConfigValue] = [:]
        for (name, content) in settings { values[AbsoluteConfigKey([name])] = .init(content, isSecret: false) }
        return values
    }

    /// Reads and validates every setting; a bad value names the setting and the form it expects.
    public init(reader: ConfigReader, isDevelopment: Bool) throws(ConfigurationError) {
        self.init()
        let settings = Settings(reader: reader)
        self.isDevelopment = isDevelopment
        listen.host = settings.string("host") ?? (isDevelopment ? "127.0.0.1" : "0.0.0.0")
        listen.port = try settings.integer("port", in: 0...65_535) ?? listen.port
        listen.path = settings.string("path") ?? listen.path
        guard listen.path.hasPrefix("/") else { throw ConfigurationError.invalid("path", expected: "a path starting with /") }

        tokens.secret = settings.string("jwt-secret")
        if let secret = tokens.secret, secret.utf8.count < TokenVerifier.minimumSecretBytes {
            throw ConfigurationError.invalid("jwt-secret", expected: Self.secretForm)
        }
        tokens.publicKeyFile = settings.string("jwt-public-key")
        tokens.jwksFile = settings.string("jwks-file")
        tokens.jwksURL = settings.string("jwks-url")
        tokens.insecureJWKSOverHTTPOnLoopback = try settings.boolean(JWKSURLRule.insecureOptIn) ?? false
        if let url = tokens.jwksURL, let error = JWKSURLRule.error(url, insecureHTTPOnLoopback: tokens.insecureJWKSOverHTTPOnLoopback) {
            throw error
        }
        tokens.jwksRefreshInterval = try settings.duration("jwks-refresh-interval", atLeast: .seconds(1)) ?? tokens.jwksRefreshInterval
        tokens.jwksMinimumRefreshGap = try settings.duration("jwks-min-refresh-interval") ?? tokens.jwksMinimumRefreshGap
        if let algorithms = settings.list("jwt-algorithms") {
            guard !algorithms.isEmpty, algorithms.allSatisfy(TokenVerifier.supportedAlgorithms.contains) else {
                throw ConfigurationError.invalid(
                    "jwt-algorithms",
                    expected: "a comma-separated list of \(TokenVerifier.supportedAlgorithms.joined(separator: ", "))"
                )
            }
            tokens.algorithms = algorithms
        } else if tokens.publicKeyFile != nil || tokens.jwksFile != nil || tokens.jwksURL != nil {
            tokens.algorithms = (tokens.secret == nil ? [] : tokens.algorithms) + TokenVerifier.publicKeyDefaults
        }
        let mode = settings.string("subscription-auth")?.lowercased() ?? "off"
        guard ["off", "claims", "hook", "claims+hook"].contains(mode) else {
            throw ConfigurationError.invalid("subscription-auth", expected: "off, claims, hook or claims+hook")
        }
        if mode.hasPrefix("claims") { tokens.entitiesClaim = settings.string("entities-claim") ?? "entities" }
        if mode.hasSuffix("hook") {
            guard let url = settings.string("auth-hook-url"), url.hasPrefix("http://") || url.hasPrefix("https://") else {
                throw ConfigurationError.invalid("auth-hook-url", expected: "an http(s):// URL, required by --subscription-auth \(mode)")
            }
            var hook = SubscriptionHook(url: url)
            hook.timeout = try settings.duration("auth-hook-timeout", atLeast: .milliseconds(1)) ?? hook.timeout
            hook.cacheTTL = try settings.duration("auth-hook-cache-ttl") ?? hook.cacheTTL
            hook.concurrency = try settings.integer("auth-hook-concurrency", in: 1...4_096) ?? hook.concurrency
            subscriptionHook = hook
        }
        tokens.maxBytes = try settings.size("max-token-bytes", atLeast: 64) ?? tokens.maxBytes
        tokens.issuer = settings.string("jwt-issuer")
        tokens.audience = settings.string("jwt-audience")
        tokens.leeway = try settings.duration("token-leeway") ?? tokens.leeway
        tokens.identityClaim = settings.string("identity-claim")

        publishKeys = settings.list("publish-key") ?? []
        awsRegion = settings.string("aws-region")?.lowercased() ?? awsRegion
        guard !awsRegion.isEmpty, awsRegion.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else {
            throw ConfigurationError.invalid("aws-region", expected: "an AWS region name such as us-east-1 or eu-west-1")
        }
        publicHosts = settings.list("public-host")?.map { $0.lowercased() } ?? []
        if let bad = publicHosts.first(where: { $0.contains("/") || $0.contains("@") || $0.contains(" ") || $0.hasPrefix(":") }) {
            throw ConfigurationError.invalid(
                "public-host",
                expected: "host names such as push.example.com or push.example.com:8443, without a scheme or path (not \(bad))"
            )
        }
        allowedOrigins = settings.list("allowed-origin") ?? []
        limits.maxMessagesPerSecond = try settings.integer("max-messages-per-second", in: 0...1_000_000) ?? limits.maxMessagesPerSecond
        limits.maxHeaderBytes = try settings.size("max-header-bytes", atLeast: 1_024) ?? limits.maxHeaderBytes
        limits.maxHandshakesPerSecond = try settings.integer("max-handshakes-per-second", in: 0...1_000_000) ?? limits.maxHandshakesPerSecond
        limits.maxConnections = try settings.integer("max-connections", in: 0...10_000_000) ?? limits.maxConnections
        limits.maxConnectionsPerUser = try settings.integer("max-connections-per-user", in: 0...10_000_000) ?? limits.maxConnectionsPerUser
        // NIOWebSocket traps on a frame limit past 4 GiB; far below that, 64 MiB is already no limit for a push protocol.
        limits.maxMessageBytes = try settings.size("max-message-bytes", atLeast: 1, atMost: 64 << 20) ?? limits.maxMessageBytes
        limits.maxSubscriptions = try settings.integer("max-subscriptions", in: 1...1_000_000) ?? limits.maxSubscriptions
        limits.outboundBufferBytes = try settings.size("outbound-buffer-bytes", atLeast: 1) ?? limits.outboundBufferBytes
        limits.pingInterval = try settings.duration("ping-interval", atLeast: .milliseconds(1)) ?? limits.pingInterval
        // Checked once per ping interval: at least two intervals, so a quiet client is pinged before it is closed.
        limits.idleTimeout =
            try settings.duration("idle-timeout", atLeast: limits.pingInterval * 2)
            ?? max(limits.idleTimeout, limits.pingInterval * 2)
        limits.maxConnectionLifetime = try settings.duration("max-connection-lifetime") ?? limits.maxConnectionLifetime
        limits.requestTimeout = try settings.duration("request-timeout", atLeast: .milliseconds(1)) ?? limits.requestTimeout
        limits.bodyTimeout = try settings.duration("body-timeout", atLeast: .milliseconds(1)) ?? limits.bodyTimeout
        limits.keepAliveTimeout = try settings.duration("keep-alive-timeout", atLeast: .milliseconds(1)) ?? limits.keepAliveTimeout
        limits.maxPendingConnections = try settings.integer("max-pending-connections", in: 1...10_000_000) ?? limits.maxPendingConnections
        history.size = try settings.integer("history-size", in: 0...1_000_000) ?? history.size
        history.ttl = try settings.duration("history-ttl") ?? history.ttl
        history.maxBytes = try settings.size("history-max-bytes", atLeast: 1) ?? history.maxBytes
        drainTimeout = try settings.duration("drain-timeout") ?? drainTimeout

        switch (settings.string("tls-cert"), settings.string("tls-key")) {
        case (let certificate?, let key?): tls = TLSFiles(certificateChain: certificate, privateKey: key)
        case (nil, nil): tls = nil
        case (nil, _?): throw ConfigurationError.invalid("tls-cert", expected: "a PEM certificate file, required with --tls-key")
        case (_?, nil): throw ConfigurationError.invalid("tls-key", expected: "a PEM private key file, required with --tls-cert")
        }
        if let broker = settings.string("broker"), broker != "memory" {
            guard broker.hasPrefix("postgres://") || broker.hasPrefix("postgresql://") else {
                throw ConfigurationError.invalid("broker", expected: "memory or postgres://user:password@host:5432/database")
            }
            brokerURL = broker
            let expected = "a secret of at least \(ClusterSecret.minimumBytes) bytes, the same on every node (e.g. openssl rand -base64 32)"
            guard let text = settings.string("cluster-secret") else {
                throw ConfigurationError.invalid("cluster-secret", expected: "\(expected), required with a postgres:// --broker")
            }
            guard let secret = ClusterSecret(text) else { throw ConfigurationError.invalid("cluster-secret", expected: expected) }
            clusterSecret = secret
            if let previous = settings.string("cluster-secret-previous") {
                guard let secret = ClusterSecret(previous) else { throw ConfigurationError.invalid("cluster-secret-previous", expected: expected) }
                previousClusterSecret = secret
            }
        }
        if let level = settings.string("log-level") {
            guard let parsed = Logger.Level(rawValue: level.lowercased()) else {
                throw ConfigurationError.invalid("log-level", expected: "trace, debug, info, notice, warning, error or critical")
            }
            logs.level = parsed
        }
        if let format = settings.string("log-format") {
            guard let parsed = Logs.Format(rawValue: format.lowercased()) else {
                throw ConfigurationError.invalid("log-format", expected: "text or json")
            }
            logs.format = parsed
        }
    }
}

/// Typed reads of string settings, each failure naming the setting and its expected form.
private struct Settings {
    let reader: ConfigReader

    func string(_ name: String) -> String? {
        reader.string(forKey: ConfigKey([name]))?.trimmingCharacters(in: .whitespaces).nilIfEmpty
    }

    func boolean(_ name: String) throws(ConfigurationError) -> Bool? {
        guard let text = string(name) else { return nil }
        switch text.lowercased() {
        case "true": return true
        case "false": return false
        default: throw ConfigurationError.invalid(name, expected: "true or false")
        }
    }

    func list(_ name: String) -> [String]? {
        if let array = reader.stringArray(forKey: ConfigKey([name])) {
            return array.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        return string(name).map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
    }

    func integer(_ name: String, in range: ClosedRange<Int>) throws(ConfigurationError) -> Int? {
        guard let text = string(name) else { return nil }
        guard let value = Int(text), range.contains(value) else {
            throw ConfigurationError.invalid(name, expected: "a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    func duration(_ name: String, atLeast minimum: Duration = .zero) throws(ConfigurationError) -> Duration? {
        guard let text = string(name) else { return nil }
        guard let value = HeraldCore.ConfigValue.duration(text), value >= minimum else {
            let floor = minimum > .zero ? " of at least \(minimum)" : ""
            throw ConfigurationError.invalid(
                name,
                expected: "a duration\(floor) up to 87600h (ten years) such as 500ms, 30s, 10m, 24h or plain seconds"
            )
        }
        return value
    }

    func size(_ name: String, atLeast minimum: Int, atMost maximum: Int = .max) throws(ConfigurationError) -> Int? {
        guard let text = string(name) else { return nil }
        guard let value = HeraldCore.ConfigValue.size(text), value >= minimum, value <= maximum else {
            let ceiling = maximum < .max ? " and at most \(maximum)" : ""
            throw ConfigurationError.invalid(name, expected: "a size of at least \(minimum) byte(s)\(ceiling), such as 32768, 32KiB or 1MiB")
        }
        return value
    }
}
