import ArgumentParser
import HeraldCore
import HeraldServer
import HeraldTokens

/// `herald token`: the AWS quick start's CreateTestJwt.
struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Print a signed test token as {\"authToken\": \"…\"} (the AWS quick start's CreateTestJwt)."
    )

    @OptionGroup var client: ClientOptions
    @Option(name: .customLong("user-id")) var userID = "myuserid"
    @Option(name: .customLong("first-name")) var firstName = "Test"
    @Option(name: .customLong("last-name")) var lastName = "User"
    @Option var sub = "examplesub"
    @Option(help: "Lifetime, e.g. 1h, 30m, 3600.") var ttl = "1h"
    @Option(help: "Comma-separated entity ids or patterns (order-*) for --subscription-auth claims.") var entities: String?

    func run() async throws {
        guard let lifetime = ConfigValue.duration(ttl) else {
            throw CommandFailure("invalid --ttl \"\(ttl)\": expected a duration such as 30s, 10m, 1h or plain seconds")
        }
        guard lifetime <= TokenIssuer.maximumTTL else {
            throw CommandFailure(
                "invalid --ttl \"\(ttl)\": a test token lives at most \(TokenIssuer.maximumTTL.components.seconds / 3600)h (365 days)"
            )
        }
        var claims = TokenIssuer.Claims()
        claims.userID = userID
        claims.firstName = firstName
        claims.lastName = lastName
        claims.sub = sub
        claims.ttl = lifetime
        claims.entities = entities.map { $0.split(separator: ",").map { String($0) } }
        let token = try await TokenIssuer(secret: client.resolvedSecret()).token(for: claims)
        Output.line(String(decoding: JSON.encode(["authToken": token]), as: UTF8.self))
    }
}
