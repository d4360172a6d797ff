import ArgumentParser
import Configuration
import Foundation
import HeraldCore
import HeraldTokens
import HeraldPostgres
import HeraldServer
import Logging
import ServiceLifecycle
import UnixSignals

/// `herald serve`: run the gateway until SIGTERM or SIGINT.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run Herald. Every option also reads HERALD_<NAME> from the environment."
    )

    @Flag(help: "Development mode: generated secret and publish key, a test token, 127.0.0.1.") var dev = false
    @Option(help: "YAML file with the same settings (flag names without --), under the environment and the flags.")
    var config: String?
    @Option(help: "Listen address (default 0.0.0.0; 127.0.0.1 with --dev).") var host: String?
    @Option(help: "Listen port; 0 picks a free one (default 8080).") var port: String?
    @Option(help: "WebSocket path (default /).") var path: String?
    @Option(name: .customLong("jwt-secret"), help: "HMAC token secret.") var jwtSecret: String?
    @Option(name: .customLong("jwt-public-key"), help: "PEM file with an RSA, P-256, P-384 or Ed25519 public key.")
    var jwtPublicKey: String?
    @Option(
        name: .customLong("jwt-algorithms"),
        help: "Accepted algorithms (default HS256,HS384,HS512 with a secret; RS256,ES256,EdDSA with a public key)."
    ) var jwtAlgorithms: String?
    @Option(name: .customLong("jwks-file"), help: "JWKS document file (keys by kid).") var jwksFile: String?
    @Option(name: .customLong("jwks-url"), help: "JWKS document URL, e.g. the identity provider's jwks_uri.") var jwksURL: String?
    @Option(name: .customLong("jwks-refresh-interval"), help: "How often the JWKS is read again (default 10m).")
    var jwksRefreshInterval: String?
    @Option(name: .customLong("jwks-min-refresh-interval"), help: "At most one refresh per this, for unknown kids (default 30s).")
    var jwksMinRefreshInterval: String?
    @Option(name: .customLong("max-token-bytes"), help: "Longest token accepted (default 16KiB).") var maxTokenBytes: String?
    @Option(name: .customLong("jwt-issuer"), help: "Required iss claim.") var jwtIssuer: String?
    @Option(name: .customLong("jwt-audience"), help: "Audience the aud claim must name.") var jwtAudience: String?
    @Option(name: .customLong("token-leeway"), help: "Clock skew allowed on exp/nbf/iat (default 30s).") var tokenLeeway: String?
    @Option(name: .customLong("identity-claim"), help: "Dotted path of the user id claim (default data.userId, then sub).")
    var identityClaim: String?
    @Option(name: .customLong("publish-key"), help: "Publish key; repeat for several (HERALD_PUBLISH_KEYS, comma-separated).")
    var publishKeys: [String] = []
    @Option(
        name: .customLong("subscription-auth"),
        help: "off (default), claims (the token's entities claim), hook (ask --auth-hook-url) or claims+hook."
    ) var subscriptionAuth: String?
    @Option(name: .customLong("auth-hook-url"), help: "Application URL asked to allow a subscription.") var authHookURL: String?
    @Option(name: .customLong("auth-hook-timeout"), help: "No answer in this long is a refusal (default 2s).") var authHookTimeout: String?
    @Option(name: .customLong("auth-hook-cache-ttl"), help: "How long a connection keeps an answer (default 60s).")
    var authHookCacheTTL: String?
    @Option(name: .customLong("auth-hook-concurrency"), help: "Hook calls in flight on this node; more wait in line (default 8).")
    var authHookConcurrency: String?
    @Option(name: .customLong("entities-claim"), help: "Dotted path of the entities claim (default entities).") var entitiesClaim: String?
    @Option(name: .customLong("allowed-origin"), help: "Browser Origin allowed to connect; repeat for several (HERALD_ALLOWED_ORIGINS).")
    var allowedOrigins: [String] = []
    @Option(name: .customLong("aws-region"), help: "Region AWS SigV4 signatures must name: the one your backends' SDKs use (default us-east-1).")
    var awsRegion: String?
    @Option(name: .customLong("public-host"), help: "Name this node is reached by; SigV4 signatures must be for one; repeat for several (HERALD_PUBLIC_HOSTS).")
    var publicHosts: [String] = []
    @Option(name: .customLong("max-connections"), help: "Connections per node, 0 = unlimited (default 0).") var maxConnections: String?
    @Option(name: .customLong("max-connections-per-user"), help: "Connections per user, 0 = unlimited (default 0).")
    var maxConnectionsPerUser: String?
    @Option(name: .customLong("max-messages-per-second"), help: "Inbound per connection, then rate_limited and 1008; 0 = unlimited (default 50).")
    var maxMessagesPerSecond: String?
    @Option(name: .customLong("max-header-bytes"), help: "Total request header size, then 400 (default 32KiB).") var maxHeaderBytes: String?
    @Option(name: .customLong("max-handshakes-per-second"), help: "Upgrade attempts per second per source IP; 0 = unlimited (default 0).")
    var maxHandshakesPerSecond: String?
    @Option(name: .customLong("max-message-bytes"), help: "Inbound message limit (default 32768).") var maxMessageBytes: String?
    @Option(name: .customLong("max-subscriptions"), help: "Subscriptions per connection (default 100).") var maxSubscriptions: String?
    @Option(name: .customLong("outbound-buffer-bytes"), help: "Queued bytes before a slow consumer is closed (default 1MiB).")
    var outboundBufferBytes: String?
    @Option(name: .customLong("ping-interval"), help: "Server WebSocket ping interval (default 30s).") var pingInterval: String?
    @Option(name: .customLong("idle-timeout"), help: "Close a client that answers nothing for this long (default 90s).")
    var idleTimeout: String?
    @Option(name: .customLong("max-connection-lifetime"), help: "Then close 4002; 0 = no limit (default 24h).")
    var maxConnectionLifetime: String?
    @Option(name: .customLong("request-timeout"), help: "From accept (TLS included) to a complete request head, or closed (default 10s).")
    var requestTimeout: String?
    @Option(name: .customLong("body-timeout"), help: "From a request's head to its whole body, or closed (default 30s).")
    var bodyTimeout: String?
    @Option(name: .customLong("keep-alive-timeout"), help: "Idle HTTP keep-alive connections are closed after this (default 60s).")
    var keepAliveTimeout: String?
    @Option(name: .customLong("max-pending-connections"), help: "Connections not yet upgraded or answered, at most; more are closed at accept (default 1024).")
    var maxPendingConnections: String?
    @Option(name: .customLong("history-size"), help: "Events kept per entity for resume; 0 disables (default 100).")
    var historySize: String?
    @Option(name: .customLong("history-ttl"), help: "Age limit of kept events (default 10m).") var historyTTL: String?
    @Option(name: .customLong("history-max-bytes"), help: "Kept events of the node together; the oldest go first (default 64MiB).")
    var historyMaxBytes: String?
    @Option(name: .customLong("drain-timeout"), help: "How long SIGTERM waits for clients (default 10s).") var drainTimeout: String?
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical (default info).")
    var logLevel: String?
    @Option(name: .customLong("log-format"), help: "text (key=value metadata) or json (one object per line) (default text).")
    var logFormat: String?
    @Option(name: .customLong("tls-cert"), help: "PEM certificate chain: serve wss:// and https:// (with --tls-key).") var tlsCert: String?
    @Option(name: .customLong("tls-key"), help: "PEM private key of --tls-cert.") var tlsKey: String?
    @Option(help: "memory (default: one node), or postgres://user:password@host:5432/database?sslmode=prefer for a cluster.")
    var broker: String?

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        var configuration: HeraldConfiguration
        do {
            let file = try (config ?? environment["HERALD_CONFIG"]).map(ConfigurationFile.load) ?? [:]
            let reader = HeraldConfiguration.reader(flags: flagValues, environment: environment, file: file)
            configuration = try HeraldConfiguration(reader: reader, isDevelopment: dev)
        } catch {
            throw CommandFailure(error.description)
        }
        if dev {
            configuration.tokens.secret = configuration.tokens.secret ?? DevCredentials.randomSecret()
            if configuration.publishKeys.isEmpty { configuration.publishKeys = [DevCredentials.randomSecret()] }
        }
        let logs = configuration.logs
        LoggingSystem.bootstrap { label in
            var handler = LogLineHandler(label: label, format: logs.format)
            handler.logLevel = logs.level
            return handler
        }
        let logger = Logger(label: "herald")
        let settings = configuration
        let application: HeraldApplication
        do {
            application = try await buildApplication(configuration: configuration, logger: logger, broker: Self.broker(configuration)) { host, port in
                Output.line("listening on \(settings.tls == nil ? "ws" : "wss")://\(host):\(port)/")
                if settings.isDevelopment { await Self.announceDevelopment(settings, host: host, port: port) }
            }
        } catch let error as HeraldError {
            throw CommandFailure(error.description)
        }
        let group = ServiceGroup(
            configuration: .init(services: [application], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        )
        try await group.run()
        logger.info("Stopped")
    }

    /// The broker `--broker` asks for.
    private static func broker(_ configuration: HeraldConfiguration) throws(HeraldError) -> BrokerFactory {
        guard let text = configuration.brokerURL else { return .memory }
        return BrokerFactory(name: "postgres", make: PostgresBroker.maker(try PostgresURL(text)))
    }

    /// The flags that were given, by setting name, for the top configuration layer.
    private var flagValues: [String: ConfigContent] {
        var values: [String: ConfigContent] = [:]
        let strings: [(String, String?)] = [
            ("host", host), ("port", port), ("path", path), ("jwt-secret", jwtSecret), ("jwt-algorithms", jwtAlgorithms),
            ("jwt-public-key", jwtPublicKey), ("jwt-issuer", jwtIssuer), ("jwt-audience", jwtAudience),
            ("max-token-bytes", maxTokenBytes), ("jwks-file", jwksFile), ("jwks-url", jwksURL),
            ("jwks-refresh-interval", jwksRefreshInterval), ("jwks-min-refresh-interval", jwksMinRefreshInterval), ("subscription-auth", subscriptionAuth), ("entities-claim", entitiesClaim),
            ("auth-hook-url", authHookURL), ("auth-hook-timeout", authHookTimeout), ("auth-hook-cache-ttl", authHookCacheTTL),
            ("auth-hook-concurrency", authHookConcurrency),
            ("max-connections", maxConnections), ("max-messages-per-second", maxMessagesPerSecond),
            ("max-handshakes-per-second", maxHandshakesPerSecond), ("max-header-bytes", maxHeaderBytes), ("max-connections-per-user", maxConnectionsPerUser), ("token-leeway", tokenLeeway), ("identity-claim", identityClaim), ("max-message-bytes", maxMessageBytes),
            ("max-subscriptions", maxSubscriptions), ("outbound-buffer-bytes", outboundBufferBytes),
            ("ping-interval", pingInterval), ("idle-timeout", idleTimeout), ("max-connection-lifetime", maxConnectionLifetime),
            ("history-size", historySize), ("history-ttl", historyTTL), ("history-max-bytes", historyMaxBytes), ("drain-timeout", drainTimeout), ("log-level", logLevel),
            ("log-format", logFormat), ("tls-cert", tlsCert), ("tls-key", tlsKey), ("broker", broker),
            ("request-timeout", requestTimeout), ("body-timeout", bodyTimeout), ("keep-alive-timeout", keepAliveTimeout),
            ("max-pending-connections", maxPendingConnections), ("aws-region", awsRegion),
        ]
        for case (let name, let value?) in strings { values[name] = .string(value) }
        if !publishKeys.isEmpty { values["publish-keys"] = .stringArray(publishKeys) }
        if !allowedOrigins.isEmpty { values["allowed-origins"] = .stringArray(allowedOrigins) }
        if !publicHosts.isEmpty { values["public-hosts"] = .stringArray(publicHosts) }
        return values
    }

    /// `--dev`: print the generated credentials, a ready token and the next commands; save them for the client commands.
    private static func announceDevelopment(_ configuration: HeraldConfiguration, host: String, port: Int) async {
        let secret = configuration.tokens.secret ?? ""
        let publishKey = configuration.publishKeys.first ?? ""
        let url = "http://\(host):\(port)"
        let token = (try? await TokenIssuer(secret: secret).token()) ?? ""
        let saved = (try? DevCredentials(url: url, jwtSecret: secret, publishKey: publishKey).save()) != nil
        Output.line(
            """
            development mode: credentials generated for this run
              jwt secret:   \(secret)
              publish key:  \(publishKey)
              test token:   \(token)   (user myuserid, 1 hour)
            \(configuration.servesConsole ? "  console:      \(url)/console   (connect, subscribe, publish, watch)\n" : "")\
            \(saved ? "saved to \(DevCredentials.fileURL.path), so these work from any terminal:" : "try, from another terminal:")
              swift run herald listen myEntityId
              swift run herald publish entity myEntityId --message hi
              curl -H 'Authorization: Bearer \(publishKey)' -d '{"message":"hi"}' \(url)/entities/myEntityId/updates
            """
        )
    }
}
