public import HeraldCore
public import HeraldTokens
public import Logging

/// Everything `serve` can be told (OPERATIONS.md §2), with the spec's defaults.
public struct HeraldConfiguration: Sendable {
    /// Where the server listens.
    public struct Listen: Sendable {
        public var host = "0.0.0.0"
        public var port = 8080
        /// The WebSocket path.
        public var path = "/"
        public init() {}
    }

    /// How client tokens are verified (`TokenConfiguration`, shared with the Lambda handlers).
    public typealias Tokens = TokenConfiguration

    /// Per-connection limits.
    public struct Limits: Sendable {
        /// Largest inbound message (inclusive); above it the socket is closed with 1009.
        public var maxMessageBytes = 32_768
        /// Subscriptions per connection.
        public var maxSubscriptions = 100
        /// Bytes queued for one connection before it is a slow consumer (1013).
        public var outboundBufferBytes = 1 << 20
        /// Interval of server WebSocket pings.
        public var pingInterval: Duration = .seconds(30)
        /// A client that sends nothing (not even a pong) for this long is closed (1001).
        public var idleTimeout: Duration = .seconds(90)
        /// How long a closing handshake the server started may take before the socket is closed anyway
        /// (this is also how long a slow consumer's queued bytes are kept after its 1013).
        public var closeTimeout: Duration = .seconds(5)
        /// Inbound messages per second per connection: more get `rate_limited`, a second's worth in a row closes with 1008 (0 = unlimited).
        public var maxMessagesPerSecond = 50
        /// Total size of a request's header fields; larger requests get `400` and a closed socket.
        public var maxHeaderBytes = 32_768
        /// WebSocket upgrade attempts per second per source IP; more get `429 rate_limited` (0 = unlimited).
        public var maxHandshakesPerSecond = 0
        /// Open connections per node; more get `503 over_capacity` (0 = unlimited).
        public var maxConnections = 0
        /// Open connections per user; more get `503 over_capacity` (0 = unlimited).
        public var maxConnectionsPerUser = 0
        /// A connection open this long is closed with 4002 (the AWS quick start's 24 h TTL); zero means no limit.
        public var maxConnectionLifetime: Duration = .seconds(24 * 3600)
        /// From accept (the TLS handshake included) until a request's head is complete, or the socket is closed.
        public var requestTimeout: Duration = .seconds(10)
        /// From a request's head until its whole body has arrived, or the socket is closed.
        public var bodyTimeout: Duration = .seconds(30)
        /// How long an HTTP connection may sit idle between requests before it is closed.
        public var keepAliveTimeout: Duration = .seconds(60)
        /// Connections accepted but not yet upgraded to WebSocket nor answered, at most; more are closed at accept.
        public var maxPendingConnections = 1_024
        public init() {}
    }

    public var listen = Listen()
    public var tokens = Tokens()
    public var limits = Limits()
    /// What each entity keeps for `subscribe` with `since`, and all entities of the node together.
    public var history = EntityHistory.Limits()
    /// The application's subscription authorisation hook (`--subscription-auth hook` or `claims+hook`).
    public struct SubscriptionHook: Sendable {
        /// Where `POST {"userId","entityId","connectionId"}` goes; `200 {"allow":true}` allows.
        public var url: String
        /// How long one answer may take; no answer in time is a refusal.
        public var timeout: Duration = .seconds(2)
        /// How long a connection remembers an answer (at most twice `--max-subscriptions` answers).
        public var cacheTTL: Duration = .seconds(60)
        /// Calls in flight on the whole node (`--auth-hook-concurrency`); more wait in line. One
        /// connection has at most 4 in flight.
        public var concurrency = 8
        public init(url: String) { self.url = url }
    }

    /// Set when the hook decides subscriptions the token's claim does not allow.
    public var subscriptionHook: SubscriptionHook?
    /// Browser origins allowed to connect (`Origin` header); others get `403 origin_not_allowed`. Empty
    /// allows any, except with `--dev`: then only the console's own origins (a loopback name on the server's port).
    public var allowedOrigins: [String] = []
    /// Keys accepted on the publish and admin API.
    public var publishKeys: [String] = []
    /// The region an AWS SigV4 signature must name (`--aws-region`): the one the backends' SDKs are
    /// configured with (they always sign with one); `us-east-1`, AWS's default region, unless set.
    public var awsRegion = "us-east-1"
    /// The names this node is reached by (`--public-host`, `name` or `name:port`): when set, a
    /// SigV4 signature must have been made for one of them (its signed `Host`). Empty: any.
    public var publicHosts: [String] = []
    /// How long a SIGTERM waits for clients to go after they were sent 1001.
    public var drainTimeout: Duration = .seconds(10)
    /// `--broker`: nil for the in-memory broker, else the cluster's `postgres://` URL (the
    /// executable parses the rest of it when it makes the broker).
    public var brokerURL: String?
    /// `--cluster-secret`: what the nodes of a cluster seal their notices with (required with a
    /// `postgres://` broker); `--cluster-secret-previous`: a second secret accepted when opening
    /// them, while every node moves to a new one.
    public var clusterSecret: ClusterSecret?
    public var previousClusterSecret: ClusterSecret?
    /// `--dev`: generated credentials, loopback address.
    public var isDevelopment = false
    /// `--tls-cert` and `--tls-key`: serve `wss://` and `https://`.
    public var tls: TLSFiles?

    /// PEM files of the server's certificate chain and private key.
    public struct TLSFiles: Sendable {
        public var certificateChain: String
        public var privateKey: String
        public init(certificateChain: String, privateKey: String) {
            self.certificateChain = certificateChain
            self.privateKey = privateKey
        }
    }

    /// How `serve` logs.
    public struct Logs: Sendable {
        public enum Format: String, Sendable {
            /// swift-log's text lines, metadata as `key=value`.
            case text
            /// One JSON object per line.
            case json
        }

        public var level = Logger.Level.info
        public var format = Format.text
        public init() {}
    }

    public var logs = Logs()

    public init() {}
}
