import Foundation
public import HeraldCore

/// What every handler of the AWS shape reads from its function's environment (the SAM template
/// sets these).
public struct LambdaSettings: Sendable {
    /// `HERALD_TABLE`: the DynamoDB table.
    public var table: String
    /// `HERALD_SECRET_ID`: the Secrets Manager secret holding the HMAC token secret.
    public var secretID: String
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

    /// Every variable these settings read (the SAM template sets each of them).
    public static let variables = [
        "HERALD_TABLE", "HERALD_SECRET_ID", "HERALD_MANAGEMENT_ENDPOINT", "HERALD_HISTORY_SIZE", "HERALD_HISTORY_TTL",
        "HERALD_MAX_SUBSCRIPTIONS", "HERALD_TOKEN_LEEWAY", "HERALD_SUBSCRIPTION_AUTH", "HERALD_ENTITIES_CLAIM",
    ]

    public init(table: String, secretID: String) {
        self.table = table
        self.secretID = secretID
    }

    /// Reads the environment; the error names the first variable missing or malformed.
    public init(environment: [String: String]) throws(LambdaError) {
        guard let table = environment["HERALD_TABLE"], !table.isEmpty else { throw LambdaError("HERALD_TABLE is not set") }
        guard let secret = environment["HERALD_SECRET_ID"], !secret.isEmpty else { throw LambdaError("HERALD_SECRET_ID is not set") }
        self.init(table: table, secretID: secret)
        managementEndpoint = environment["HERALD_MANAGEMENT_ENDPOINT"].flatMap { $0.isEmpty ? nil : $0 }
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
        switch environment["HERALD_SUBSCRIPTION_AUTH"] ?? "none" {
        case "none", "": entitiesClaim = nil
        case "claims": entitiesClaim = environment["HERALD_ENTITIES_CLAIM"].flatMap { $0.isEmpty ? nil : $0 } ?? "entities"
        case let mode:
            throw LambdaError("HERALD_SUBSCRIPTION_AUTH must be none or claims (the authorisation hook is the standalone server's), not \(mode)")
        }
    }
}
