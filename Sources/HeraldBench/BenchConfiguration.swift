/// What one `herald bench` run does. Every field has a default; `validate()` enforces the bounds.
public struct BenchConfiguration: Sendable {
    /// The server under test.
    public enum Target: String, Sendable, CaseIterable {
        /// Herald: JWT on connect, `subscribe` message, `POST /entities/{id}/updates` with a publish key.
        case herald
        /// Nginx with the Nchan module: `GET /sub/{id}` WebSocket, `POST /pub/{id}` raw body.
        case nchan
    }

    /// How publishes are paced.
    public enum Rate: Sendable, Equatable, CustomStringConvertible {
        /// No publishing: hold the connections for the duration (memory per connection).
        case idle
        /// A fixed schedule of this many publishes per second.
        case perSecond(Double)
        /// Closed loop: `window` publishes outstanding; the next goes out when one's deliveries all arrived.
        case max

        /// Parses `max`, `0` or a positive number; nil otherwise.
        public init?(_ text: String) {
            if text.lowercased() == "max" {
                self = .max
                return
            }
            guard let value = Double(text), value.isFinite, value >= 0 else { return nil }
            self = value == 0 ? .idle : .perSecond(value)
        }

        public var description: String {
            switch self {
            case .idle: "0"
            case .max: "max"
            case .perSecond(let value): value == value.rounded() ? String(Int(value)) : String(value)
            }
        }
    }

    /// Upper bounds that keep a run finite.
    public enum Limits {
        public static let connections = 100_000
        public static let duration: Duration = .seconds(600)
        public static let rate = 100_000.0
        public static let messageBytes = 65_536
        public static let sourceAddresses = 254
        public static let connectConcurrency = 10_000
        public static let threads = 64
        public static let window = 64
        public static let publishConnections = 256
        public static let eventsPerPublish = 100
        public static let publishServers = 16
        public static let connectRate = 100_000.0
        public static let gapPublishes = 100
    }

    /// The reconnect storm (`StormPhase`), after the publish (or idle) phase: every ready client
    /// loses its node at once (`loseNode`: SIGTERM, so Herald closes with `1001`) and, once all
    /// have noticed, reconnects to a fresh node — Herald's with `since` and `epoch`, each expecting
    /// exactly the events published meanwhile (`gapPublishes` per entity, through the fresh node).
    public struct Storm: Sendable {
        /// Makes the node go (the command sends SIGTERM to a process); called once, not awaited.
        public var loseNode: @Sendable () async -> Void
        /// The fresh node the clients reconnect to (`--reconnect-url`).
        public var host = "127.0.0.1"
        public var port = 8080
        public var path = "/"
        /// The fresh node's process: the storm's server CPU and memory are read from it.
        public var serverPID: Int32?
        /// Herald: publishes per entity through the fresh node while the clients are away (each
        /// client must receive its entity's in its replay, exactly once; keep it below the
        /// fresh node's `--history-size`). 0 for Nchan, which keeps nothing for a reconnect.
        public var gapPublishes = 1
        /// How long the clients have to notice the loss, and then to resume; the rest count as failed.
        public var lossTimeout: Duration = .seconds(30)
        public var resumeTimeout: Duration = .seconds(180)

        public init(loseNode: @escaping @Sendable () async -> Void) {
            self.loseNode = loseNode
        }

        /// Sets the fresh node's host, port and path from `http://HOST:PORT/PATH`.
        public mutating func setURL(_ url: String) throws(BenchError) {
            (host, port, path) = try BenchConfiguration.parseURL(url)
        }
    }

    public var target: Target = .herald
    /// IPv4 address or host name of the server (resolved once).
    public var host = "127.0.0.1"
    public var port = 8080
    /// Herald: the WebSocket path. Nchan: a prefix put before `/sub/…` and `/pub/…`.
    public var path = "/"
    /// Herald: tokens used round-robin (connection i uses `tokens[i % count]`).
    public var tokens: [String] = []
    /// Herald: the publish key sent as `Authorization: Bearer`.
    public var publishKey: String?
    /// WebSocket connections to open; connection i subscribes to entity `bench-(i % entities)`.
    public var connections = 1000
    /// Distinct entities (channels).
    public var entities = 1
    public var rate: Rate = .perSecond(10)
    /// Length of the publish (or idle) phase.
    public var duration: Duration = .seconds(10)
    /// Size of each published message string.
    public var messageBytes = 64
    /// Client sockets are bound round-robin to 127.0.0.1 … 127.0.0.N (1: no explicit bind).
    public var sourceAddresses = 1
    /// Handshakes in flight during the connect phase.
    public var connectConcurrency = 200
    /// Event-loop threads of the generator (default: the cores this process may run on, at most 8).
    public var threads = BenchConfiguration.availableCores
    /// Closed loop (`rate max`): publishes outstanding at once (a few, so one straggling delivery does
    /// not idle the server).
    public var window = 4
    /// Keep-alive HTTP connections used for publishing (one request in flight on each).
    public var publishConnections = 8
    /// Herald: events in one publish request; more than 1 sends them as one `POST /events` batch
    /// (entities round-robin). `rate` counts events, not requests.
    public var eventsPerPublish = 1
    /// The servers the publish connections go to, in turn (e.g. the nodes of a cluster); empty:
    /// the server under test.
    public var publishServers: [Server] = []

    /// A server's host and port.
    public struct Server: Sendable, Equatable {
        public var host: String
        public var port: Int
    }
    /// Process whose CPU and memory are measured (the server; nginx's worker for Nchan).
    public var serverPID: Int32?
    /// Connections opened per second in the connect phase (still at most `connectConcurrency` in
    /// flight); nil: as fast as `connectConcurrency` allows.
    public var connectRate: Double?
    /// The reconnect storm after the publish phase; nil: none.
    public var storm: Storm?
    /// The whole connect phase stops launching new connections after this long.
    public var connectPhaseTimeout: Duration = .seconds(180)
    /// One connection's TCP connect + upgrade + subscribe must finish within this.
    public var handshakeTimeout: Duration = .seconds(10)
    /// After the last publish, how long to wait for deliveries still on their way.
    public var drainTimeout: Duration = .seconds(2)
    /// Closed loop: a publish whose deliveries have not all arrived by then no longer holds the window.
    public var publishTimeout: Duration = .seconds(2)
    /// One publish request must be answered within this.
    public var responseTimeout: Duration = .seconds(10)

    public init() {}

    /// Cores this process may run on (CPU affinity and cgroup quota), at most 8.
    public static var availableCores: Int { min(SelfResources.cores, 8) }

    /// Sets host, port and path from `http://HOST:PORT/PATH` (also `ws://`); TLS is not supported.
    /// Adds a server to publish to, from `http://HOST:PORT` (`--publish-url`).
    public mutating func addPublishURL(_ url: String) throws(BenchError) {
        let (host, port, _) = try Self.parseURL(url)
        publishServers.append(Server(host: host, port: port))
    }

    public mutating func setURL(_ url: String) throws(BenchError) {
        (host, port, path) = try Self.parseURL(url)
    }

    /// Host, port and path of `http://HOST:PORT/PATH` (also `ws://`; the query is dropped).
    public static func parseURL(_ url: String) throws(BenchError) -> (host: String, port: Int, path: String) {
        var rest = Substring(url)
        for scheme in ["http://", "ws://"] where rest.hasPrefix(scheme) { rest = rest.dropFirst(scheme.count) }
        if rest.hasPrefix("https://") || rest.hasPrefix("wss://") {
            throw BenchError(.invalidConfiguration, "the load generator speaks plain http/ws only: \(url)")
        }
        guard !rest.contains("://") else { throw BenchError(.invalidConfiguration, "unsupported URL \(url)") }
        let authority = rest.prefix { $0 != "/" }
        let pathPart = rest.dropFirst(authority.count)
        var hostPart = authority
        var portNumber = 80
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw BenchError(.invalidConfiguration, "invalid URL \(url)") }
            hostPart = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") {
                guard let value = Int(after.dropFirst()) else { throw BenchError(.invalidConfiguration, "invalid port in \(url)") }
                portNumber = value
            }
        } else if let colon = authority.lastIndex(of: ":") {
            hostPart = authority[..<colon]
            guard let value = Int(authority[authority.index(after: colon)...]) else {
                throw BenchError(.invalidConfiguration, "invalid port in \(url)")
            }
            portNumber = value
        }
        guard !hostPart.isEmpty, (1...65535).contains(portNumber) else { throw BenchError(.invalidConfiguration, "invalid URL \(url)") }
        return (String(hostPart), portNumber, pathPart.isEmpty ? "/" : String(pathPart.prefix { $0 != "?" }))
    }

    /// Throws the first setting that is out of bounds, as a one-line message naming the flag.
    public func validate() throws(BenchError) {
        func check(_ condition: Bool, _ message: @autoclosure () -> String) throws(BenchError) {
            if !condition { throw BenchError(.invalidConfiguration, message()) }
        }
        try check((1...Limits.connections).contains(connections), "--connections must be 1…\(Limits.connections), got \(connections)")
        try check((1...Limits.connections).contains(entities), "--entities must be 1…\(Limits.connections), got \(entities)")
        try check(duration > .zero && duration <= Limits.duration, "--duration must be more than 0 and at most 10m")
        if case .perSecond(let value) = rate {
            try check(value <= Limits.rate, "--rate must be at most \(Int(Limits.rate)) per second, 0 or max")
        }
        try check(
            (BenchMessage.minimumBytes...Limits.messageBytes).contains(messageBytes),
            "--message-bytes must be \(BenchMessage.minimumBytes)…\(Limits.messageBytes), got \(messageBytes)"
        )
        try check((1...Limits.sourceAddresses).contains(sourceAddresses), "--source-addresses must be 1…\(Limits.sourceAddresses)")
        try check(
            (1...Limits.connectConcurrency).contains(connectConcurrency),
            "--connect-concurrency must be 1…\(Limits.connectConcurrency)"
        )
        try check((1...Limits.threads).contains(threads), "--threads must be 1…\(Limits.threads)")
        try check((1...Limits.window).contains(window), "--window must be 1…\(Limits.window)")
        try check((1...Limits.publishConnections).contains(publishConnections), "--publish-connections must be 1…\(Limits.publishConnections)")
        try check((1...Limits.eventsPerPublish).contains(eventsPerPublish), "--events-per-publish must be 1…\(Limits.eventsPerPublish)")
        try check(eventsPerPublish == 1 || target == .herald, "--events-per-publish needs --target herald (POST /events)")
        try check(publishServers.count <= Limits.publishServers, "at most \(Limits.publishServers) --publish-url")
        if target == .herald {
            try check(!tokens.isEmpty, "Herald needs at least one token")
            if rate != .idle { try check(publishKey != nil, "Herald needs a publish key to publish") }
        }
        if let serverPID { try check(serverPID > 0, "--server-pid must be a process id") }
        if let connectRate {
            try check(
                connectRate > 0 && connectRate <= Limits.connectRate,
                "--connect-rate must be more than 0 and at most \(Int(Limits.connectRate)) per second"
            )
        }
        if let storm {
            try check((0...Limits.gapPublishes).contains(storm.gapPublishes), "--gap-publishes must be 0…\(Limits.gapPublishes)")
            try check(
                target == .herald || storm.gapPublishes == 0,
                "Nchan keeps nothing for a reconnect: --gap-publishes must be 0 with --target nchan"
            )
            if target == .herald { try check(publishKey != nil, "Herald needs a publish key for the storm's publishes") }
            if let pid = storm.serverPID { try check(pid > 0, "--reconnect-server-pid must be a process id") }
            try check(!storm.host.isEmpty && (1...65535).contains(storm.port), "invalid reconnect address \(storm.host):\(storm.port)")
        }
        try check(!host.isEmpty && (1...65535).contains(port), "invalid server address \(host):\(port)")
    }

    /// The entity (channel) id of entity number `entity`.
    static func entityID(_ entity: Int) -> String { "bench-\(entity)" }
}
