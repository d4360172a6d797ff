extension Setting {
    /// Every setting of `serve`, in the order `--help`, the README and the example file list them.
    /// Adding a setting is one line here and its reading in `HeraldConfiguration.init(reader:)`.
    public static let all: [Setting] = [
        Setting("host", .listening, note: "`0.0.0.0` (`127.0.0.1` with `--dev`)", examples: ["0.0.0.0"], "listen address"),
        Setting("port", .listening, default: "8080", "listen port; `0` picks a free one (the `listening on` line shows it)"),
        Setting("path", .listening, default: "/", "WebSocket path; an upgrade anywhere else gets `404 not_found`"),
        Setting(
            "broker",
            .listening,
            default: "memory",
            examples: ["postgres://user:password@host:5432/database?sslmode=prefer"],
            "`memory` (one node), or the PostgreSQL database the nodes of a cluster share: `postgres://user:password@host:5432/database?sslmode=prefer` (`disable`, `prefer`, `require`, `verify-full`); see docs/OPERATIONS.md §13"
        ),
        Setting(
            "cluster-secret",
            .listening,
            note: "required with a `postgres://` broker",
            examples: ["change-me-to-a-long-random-secret-of-32-bytes-or-more"],
            "the secret every node of a cluster shares, at least 32 bytes (`openssl rand -base64 32`): every notice between the nodes is sealed with it, so a database role that is not a node can neither read nor forge nor replay one (docs/OPERATIONS.md §13); prefer `HERALD_CLUSTER_SECRET` to a flag or file"
        ),
        Setting(
            "cluster-secret-previous",
            .listening,
            examples: ["the-other-secret-of-32-bytes-or-more-while-changing-it"],
            "a second cluster secret accepted from other nodes (never used to seal), while every node moves to a new `--cluster-secret`"
        ),

        Setting(
            "tls-cert",
            .tls,
            examples: ["/etc/herald/tls/fullchain.pem"],
            "PEM certificate chain (server certificate first): serve `wss://` and `https://` (TLS 1.2+, ECDHE with AEAD only)"
        ),
        Setting("tls-key", .tls, examples: ["/etc/herald/tls/privkey.pem"], "PEM private key of `--tls-cert`"),

        Setting(
            "jwt-secret",
            .tokens,
            note: "required unless `--dev`, `--jwt-public-key` or a JWKS",
            examples: ["change-me-to-a-long-random-secret-of-32-bytes-or-more"],
            "HMAC secret for client tokens, at least 32 bytes (64 for HS512); prefer `HERALD_JWT_SECRET` to a flag or file"
        ),
        Setting(
            "jwt-public-key",
            .tokens,
            examples: ["/etc/herald/jwt-public.pem"],
            "PEM file with an RSA (≥ 2048 bits), P-256, P-384 or Ed25519 public key"
        ),
        Setting("jwks-file", .tokens, examples: ["/etc/herald/jwks.json"], "a JWKS document in a file (keys by `kid`)"),
        Setting(
            "jwks-url",
            .tokens,
            examples: ["https://idp.example.com/.well-known/jwks.json"],
            "a JWKS document's `https://` URL (the identity provider's `jwks_uri`), loaded at start and refreshed; each fetch within 10 s and 1 MiB, redirects followed only within the URL's origin"
        ),
        Setting(
            "insecure-jwks-over-http-on-loopback",
            .tokens,
            default: "false",
            "`true` also accepts an `http://` `--jwks-url` whose host is 127.0.0.1, [::1] or localhost, for a test identity provider (logged as a warning at start); any other `http://` URL is refused"
        ),
        Setting("jwks-refresh-interval", .tokens, default: "10m", "how often the JWKS is read again"),
        Setting("jwks-min-refresh-interval", .tokens, default: "30s", "at most one JWKS refresh per this long when tokens name an unknown `kid`"),
        Setting(
            "jwt-algorithms",
            .tokens,
            note: "`HS256,HS384,HS512` with a secret; `RS256,ES256,EdDSA` with a public key or JWKS",
            examples: ["HS256,HS384,HS512"],
            "the only algorithms accepted; a token's own `alg` never widens it"
        ),
        Setting("jwt-issuer", .tokens, examples: ["https://idp.example.com/"], "required `iss` claim (unset: not checked) → `401 claim_mismatch`"),
        Setting("jwt-audience", .tokens, examples: ["my-app"], "audience the `aud` claim must name (unset: not checked) → `401 claim_mismatch`"),
        Setting("token-leeway", .tokens, default: "30s", "clock skew allowed on `exp`, `nbf` and `iat`"),
        Setting(
            "identity-claim",
            .tokens,
            note: "`data.userId`, then `sub`",
            examples: ["data.userId"],
            "dotted path of the user id claim (setting it removes the fallback)"
        ),
        Setting("max-token-bytes", .tokens, default: "16KiB", "longer tokens are `token_invalid` before they are parsed"),

        Setting(
            "publish-key",
            .publishing,
            form: .list,
            note: "required unless `--dev`",
            examples: ["change-me-long-random-key-for-backend-a", "change-me-long-random-key-for-backend-b"],
            aliases: ["publish-keys"],
            "keys for the publish, admin and `@connections` APIs; prefer `HERALD_PUBLISH_KEY` (comma-separated) to a flag or file"
        ),
        Setting(
            "aws-region",
            .publishing,
            default: "us-east-1",
            "the region an AWS SigV4 signature (service `execute-api`) must name: the one your backends' SDKs are configured with (`AWS_REGION` is not read)"
        ),
        Setting(
            "public-host",
            .publishing,
            form: .list,
            note: "any",
            examples: ["push.example.com", "push.example.com:8443"],
            "names this node is reached by (`host` or `host:port`; a name without a port matches any): a SigV4 signature must have been made for one of them (its signed `Host`)"
        ),

        Setting(
            "subscription-auth",
            .authorisation,
            default: "off",
            "`claims`: a connection may subscribe only to entities its token's entities claim allows (ids, `*` patterns); `hook`: the application's hook decides; `claims+hook`: the claim, else the hook → `forbidden`"
        ),
        Setting("entities-claim", .authorisation, default: "entities", "dotted path of the claim listing allowed entity ids and `*` patterns"),
        Setting(
            "auth-hook-url",
            .authorisation,
            examples: ["https://app.internal.example/herald/authorise"],
            "asked `POST {\"userId\",\"entityId\",\"connectionId\"}`; `200 {\"allow\":true}` allows, anything else refuses (required with `hook`)"
        ),
        Setting("auth-hook-timeout", .authorisation, default: "2s", "no answer from the hook in this long is a refusal"),
        Setting(
            "auth-hook-cache-ttl",
            .authorisation,
            default: "60s",
            "how long a connection keeps a hook answer (at most twice `--max-subscriptions` answers)"
        ),
        Setting(
            "auth-hook-concurrency",
            .authorisation,
            default: "8",
            "hook calls in flight on this node (1–4096; one connection has at most 4); more wait their turn"
        ),

        Setting(
            "allowed-origin",
            .connections,
            form: .list,
            note: "any (with `--dev`: the console's own, a loopback name on the server's port)",
            examples: ["https://app.example.com"],
            aliases: ["allowed-origins"],
            "browser `Origin`s allowed to connect → `403 origin_not_allowed`"
        ),
        Setting("max-connections", .connections, default: "0", "open connections per node → `503 over_capacity` (`0` = unlimited)"),
        Setting(
            "max-connections-per-user",
            .connections,
            default: "0",
            "open connections per user on this node → `503 over_capacity` (`0` = unlimited)"
        ),
        Setting(
            "max-handshakes-per-second",
            .connections,
            default: "0",
            "upgrade attempts per second per source IP → `429 rate_limited` (`0` = unlimited; behind a proxy every client shares its address: keep `0` there)"
        ),
        Setting("max-header-bytes", .connections, default: "32KiB", "total size of a request's header fields → `400` and the socket closed"),
        Setting(
            "request-timeout",
            .connections,
            default: "10s",
            "from accept (the TLS handshake included) until a request's head is complete, or the socket is closed"
        ),
        Setting("body-timeout", .connections, default: "30s", "from a request's head until its whole body has arrived, or the socket is closed"),
        Setting("keep-alive-timeout", .connections, default: "60s", "an HTTP keep-alive connection idle this long between requests is closed"),
        Setting(
            "max-pending-connections",
            .connections,
            default: "1024",
            "connections accepted but not yet upgraded nor answered, at most; more are closed at once"
        ),
        Setting("ping-interval", .connections, default: "30s", "server WebSocket pings to a quiet client"),
        Setting(
            "idle-timeout",
            .connections,
            note: "`90s`, or twice `--ping-interval` if that is longer",
            examples: ["90s"],
            "a client that sends nothing (not even a pong) for this long is closed with `1001`; at least twice `--ping-interval`"
        ),
        Setting("max-connection-lifetime", .connections, default: "24h", "then the connection is closed with `4002` (`0` = no limit)"),

        Setting(
            "max-message-bytes",
            .messages,
            default: "32768",
            "largest inbound message (inclusive, at most `64MiB`); above it the connection closes with `1009`"
        ),
        Setting(
            "max-messages-per-second",
            .messages,
            default: "50",
            "inbound messages and WebSocket pings per connection → `rate_limited` error frames (pings: no pong), then `1008` (`0` = unlimited)"
        ),
        Setting("max-subscriptions", .messages, default: "100", "subscriptions per connection → `subscription_limit`"),
        Setting(
            "outbound-buffer-bytes",
            .messages,
            default: "1MiB",
            "bytes queued for one connection before it is closed as a slow consumer (`1013`)"
        ),

        Setting("history-size", .history, default: "100", "events kept per entity for resume (`0` disables history)"),
        Setting("history-ttl", .history, default: "10m", "age limit of kept events"),
        Setting(
            "history-max-bytes",
            .history,
            default: "64MiB",
            "frame bytes of all kept events of the node together; over it, the node's oldest kept events go first"
        ),

        Setting("drain-timeout", .shutdown, default: "10s", "how long SIGTERM or SIGINT waits for clients to leave after they were sent `1001`"),

        Setting("log-level", .logs, default: "info", "`trace`, `debug`, `info`, `notice`, `warning`, `error` or `critical`"),
        Setting("log-format", .logs, default: "text", "`text` (swift-log lines, metadata as `key=value`) or `json` (one object per line)"),
    ]
}
