import Foundation
public import HeraldCore

/// What every handler of the AWS shape reads from its function's environment (the SAM template
/// sets these).
public struct LambdaSettings: Sendable {
    /// `HERALD_TABLE`: the DynamoDB table (every function but the router's).
    public var table: String?
    /// `HERALD_SECRET_ID`: the Secrets Manager secret holding the HMAC token secret (its string,
    /// or `{"signature": "…"}`), for the functions that sign or verify tokens only.
    public var secretID: String?
    /// `HERALD_MANAGEMENT_ENDPOINT`: the WebSocket API's `https://…/stage` URL, for the fan-out
    /// functions (the WebSocket function reads it from each event when this is unset).
    public var managementEndpoint: String?
    /// `HERALD_HISTORY_SIZE` (100) and `HERALD_HISTORY_TTL` in seconds (600): the history window.
    public var history = EntityHistory.Limits()
    /// `HERALD_MAX_SUBSCRIPTIONS` (100) per connection.
    public var maxSubscriptions = 100
    /// `HERALD_TOKEN_LEEWAY` in seconds (30).
    public var tokenLeeway: Duration = .seconds(30)
    /// `HERALD_SUBSCRIPTION_AUTH` `claims` and `HERALD_ENTITIES_CLAIM` (default `entities`): the
    /// dotted path of the claim that lists what a token may subscribe to (PROTOCOL.md §2); nil
    /// (`none`, the default): any entity.
    public var entitiesClaim: String?
    /// `HERALD_POST_CONCURRENCY` (64, at most `AWSClient.connectionsPerHost`): the fan-out's
    /// posts in flight at once, per event.
    public var postConcurrency = 64
    /// `HERALD_ENTITY_QUEUE_URL`: the FIFO queue the router sends entity updates to.
    public var entityQueueURL: String?
    /// `HERALD_REFUSED_QUEUE_URL`: where refused events go (`Refusals`); unset, they are only logged.
    public var refusedQueueURL: String?
    /// `HERALD_PUBLISH_KEY_SECRET_ID`: the secret holding the publish keys (comma-separated), for the publish function.
    public var publishKeySecretID: String?
    /// `HERALD_EVENT_BUS` (`default`): the EventBridge bus the publish function puts events on.
    public var eventBus = "default"

    /// Every variable these settings read (the SAM template sets each of them).
    public static let variables = [
        "HERALD_TABLE", "HERALD_SECRET_ID", "HERALD_MANAGEMENT_ENDPOINT", "HERALD_HISTORY_SIZE", "HERALD_HISTORY_TTL",
        "HERALD_MAX_SUBSCRIPTIONS", "HERALD_TOKEN_LEEWAY", "HERALD_POST_CONCURRENCY", "HERALD_ENTITY_QUEUE_URL",
        "HERALD_REFUSED_QUEUE_URL", "HERALD_PUBLISH_KEY_SECRET_ID", "HERALD_EVENT_BUS",
        "HERALD_SUBSCRIPTION_AUTH", "HERALD_ENTITIES_CLAIM",
    ]

    public init(table: String?, secretID: String?) {
        self.table = table
        self.secretID = secretID
    }

    /// Reads the environment; the error names the first variable missing or malformed.
    public init(environment: [String: String]) throws(LambdaError) {
        func text(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        self.init(table: text("HERALD_TABLE"), secretID: text("HERALD_SECRET_ID"))
        managementEndpoint = text("HERALD_MANAGEMENT_ENDPOINT")
        entityQueueURL = text("HERALD_ENTITY_QUEUE_URL")
        refusedQueueURL = text("HERALD_REFUSED_QUEUE_URL")
        publishKeySecretID = text("HERALD_PUBLISH_KEY_SECRET_ID")
        eventBus = text("HERALD_EVENT_BUS") ?? eventBus
        func number(_ name: String) throws(LambdaError) -> Int? {
            guard let text = environment[name] else { return nil }
            guard let value = Int(text), value >= 0 else { throw LambdaError("\(name) must be a whole number, not \(text)") }
            return value
        }
        func seconds(_ name: String) throws(LambdaError) -> Duration? {
            guard let value = try number(name) else { return nil }
            let longest = ConfigValue.maximumDuration.components.seconds
            guard value <= longest else { throw LambdaError("\(name) must be at most \(longest) seconds (ten years), not \(value)") }
            return .seconds(value)
        }
        history.size = try number("HERALD_HISTORY_SIZE") ?? history.size
        history.ttl = try seconds("HERALD_HISTORY_TTL") ?? history.ttl
        maxSubscriptions = try number("HERALD_MAX_SUBSCRIPTIONS") ?? maxSubscriptions
        tokenLeeway = try seconds("HERALD_TOKEN_LEEWAY") ?? tokenLeeway
        postConcurrency = try number("HERALD_POST_CONCURRENCY") ?? postConcurrency
        guard (1...AWSClient.connectionsPerHost).contains(postConcurrency) else {
            throw LambdaError("HERALD_POST_CONCURRENCY must be from 1 to \(AWSClient.connectionsPerHost), not \(postConcurrency)")
        }
        switch environment["HERALD_SUBSCRIPTION_AUTH"] ?? "none" {
        case "none", "": entitiesClaim = nil
        case "claims": entitiesClaim = environment["HERALD_ENTITIES_CLAIM"].flatMap { $0.isEmpty ? nil : $0 } ?? "entities"
        case let mode:
            throw LambdaError("HERALD_SUBSCRIPTION_AUTH must be none or claims (the authorisation hook is the standalone server's), not \(mode)")
        }
    }
}
