public import HeraldCore
import HeraldTokens
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
public import Logging
import NIOCore
public import ServiceLifecycle

/// A running Herald node: the Hummingbird application and the drain step that must run
/// before it stops. Run it in a `ServiceGroup` (as `serve` does) or on its own.
public struct HeraldApplication: Service {
    /// The hub of this node (tests read its figures).
    public let hub: Hub
    private let group: ServiceGroup

    init(hub: Hub, group: ServiceGroup) {
        self.hub = hub
        self.group = group
    }

    public func run() async throws {
        try await group.run()
    }
}

/// Builds Herald from its configuration; `serve` and the tests both start here.
/// - Parameters:
///   - broker: makes the broker (`--broker`): the in-memory one unless the executable picks another.
///   - onListening: called with the bound host and port once the server accepts connections.
public func buildApplication(
    configuration: HeraldConfiguration,
    logger: Logger,
    broker brokerFactory: BrokerFactory = .memory,
    onListening: @escaping @Sendable (_ host: String, _ port: Int) async -> Void = { _, _ in }
) async throws -> HeraldApplication {
    try configuration.checkStartable()
    let tokens = configuration.tokens
    let metrics = HeraldMetrics()
    let hub = Hub(observer: metrics)
    let (broker, brokerServices): (any Broker, [any Service])
    do {
        (broker, brokerServices) = try await brokerFactory.make(hub, configuration.history, logger)
    } catch {
        throw ConfigurationError.unusable("broker", String(describing: error))
    }
    let lifecycle = Lifecycle()
    let refusals = Refusals(metrics: metrics)
    let directory = ConnectionDirectory(hub: hub)
    if let url = tokens.jwksURL, JWKSLocation.Origin(url)?.scheme == "http" {
        logger.warning(
            "JWKS fetched over plain HTTP: --\(JWKSURLRule.insecureOptIn) is for tests on this machine only",
            metadata: ["herald.jwks.source": "--jwks-url \(url)"]
        )
    }
    let tokenKeys: VerificationKeys
    do {
        tokenKeys = try await VerificationKeys(configuration: tokens)
    } catch {
        throw ConfigurationError.unusable("jwt-public-key", error)
    }
    let keySet = (tokens.jwksURL.map(KeySetRefresher.Source.url) ?? tokens.jwksFile.map(KeySetRefresher.Source.file)).map {
        KeySetRefresher(
            source: $0,
            keys: tokenKeys,
            interval: tokens.jwksRefreshInterval,
            minimumGap: tokens.jwksMinimumRefreshGap,
            fetchTimeout: tokens.jwksFetchTimeout,
            logger: logger
        )
    }
    do {
        try await keySet?.load()
    } catch {
        throw ConfigurationError.unusable(tokens.jwksURL != nil ? "jwks-url" : "jwks-file", error)
    }
    let verifier = TokenVerifier(configuration: tokens, keys: tokenKeys)
    let gate = ConnectGate(
        verifier: verifier,
        keySet: keySet,
        lifecycle: lifecycle,
        hub: hub,
        refusals: refusals,
        path: configuration.listen.path,
        origins: OriginPolicy(allowedOrigins: configuration.allowedOrigins, isDevelopment: configuration.isDevelopment),
        limits: configuration.limits
    )
    let connection = WebSocketConnection.Settings(
        hub: hub,
        broker: broker,
        refusals: refusals,
        verifier: verifier,
        tokenLeeway: configuration.tokens.leeway,
        limits: configuration.limits,
        hook: configuration.subscriptionHook.map {
            AuthorisationHook(url: $0.url, timeout: $0.timeout, cacheTTL: $0.cacheTTL, concurrency: $0.concurrency, logger: logger)
        },
        metrics: metrics,
        directory: directory,
        logger: logger
    )
    let path = RouterPath(configuration.listen.path)

    let router = Router(context: BasicRequestContext.self)
    router.get(path) { request, _ in gate.rejectRoute(request) }
    HealthRoutes(lifecycle: lifecycle, broker: broker).add(to: router)
    MetricsRoutes(metrics: metrics, hub: hub, broker: broker).add(to: router)
    ClientRoutes(console: ClientRoutes.console(for: configuration)).add(to: router)
    let publishKeys = PublishKeys(
        configuration.publishKeys,
        region: configuration.awsRegion,
        publicHosts: configuration.publicHosts,
        metrics: metrics
    )
    let publishRoutes = PublishRoutes(broker: broker, metrics: metrics, logger: logger)
    publishRoutes.add(to: router, keys: publishKeys)
    let connections = ConnectionRouter(local: directory, cluster: broker.cluster)
    broker.cluster?.answerQuestions(with: connections.answer)
    broker.cluster?.reportRejectedNotices(to: metrics.rejectedNotice)
    AdminRoutes(hub: hub, broker: broker, refusals: refusals, metrics: metrics, connections: connections).add(to: router, keys: publishKeys)
    ManagementRoutes(connections: connections).add(to: router, keys: publishKeys)

    let tls = try configuration.tls.map { files throws(ConfigurationError) in try HeraldConfiguration.TLSFiles.load(files) }
    let limits = configuration.limits
    let pending = PendingConnections(limit: limits.maxPendingConnections)
    let timeouts = ConnectionDeadline.Timeouts(
        request: TimeAmount(limits.requestTimeout),
        body: TimeAmount(limits.bodyTimeout),
        keepAlive: TimeAmount(limits.keepAliveTimeout)
    )
    let responder = ConnectionServer<GuardedChannel<HeraldChannel>>.responder(for: router, logger: logger)
    let channel = HeraldChannel(
        responder: responder,
        gate: gate,
        connection: connection,
        secure: tls != nil,
        publishRoutes: publishRoutes,
        publishKeys: publishKeys
    )
    let host = configuration.listen.host
    let onRunning: @Sendable (any Channel) async -> Void = { channel in
        await AcceptBackoff.install(on: channel, metrics: metrics, logger: logger)
        await onListening(host, channel.localAddress?.port ?? configuration.listen.port)
    }
    // The pending bound and the deadlines come first, before TLS and any protocol.
    let server: any Service
    if let tls {
        server = ConnectionServer(
            child: GuardedChannel(base: try TLSChannel(channel, tlsConfiguration: tls), pending: pending, timeouts: timeouts, metrics: metrics),
            host: host,
            port: configuration.listen.port,
            backlog: 4096,
            group: EventLoops.group,
            logger: logger,
            onRunning: onRunning
        )
    } else {
        server = ConnectionServer(
            child: GuardedChannel(base: channel, pending: pending, timeouts: timeouts, metrics: metrics),
            host: host,
            port: configuration.listen.port,
            backlog: 4096,
            group: EventLoops.group,
            logger: logger,
            onRunning: onRunning
        )
    }
    logger.info(
        "Starting",
        metadata: [
            "herald.host": "\(host)", "herald.tls": "\(tls != nil)", "herald.broker": "\(brokerFactory.name)",
            "herald.path": "\(configuration.listen.path)",
        ]
    )
    let drain = DrainService(lifecycle: lifecycle, hub: hub, directory: directory, timeout: configuration.drainTimeout, logger: logger)
    // Graceful shutdown runs in reverse order: the drain finishes before the server stops, and
    // the server before the broker's services.
    let sweep = HistorySweep(broker: broker, interval: configuration.history.sweepInterval, logger: logger)
    let services: [any Service] = brokerServices + [server, drain, sweep] + (keySet.map { [$0] } ?? [])
    let group = ServiceGroup(configuration: .init(services: services, logger: logger))
    return HeraldApplication(hub: hub, group: group)
}
