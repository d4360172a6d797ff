import HeraldCore
import HeraldTokens

/// The functions of the AWS shape, by their `Handler` name in the SAM template.
public enum LambdaFunctions {
    public static let names = ["websocket", "authorizer", "fanout", "test-token"]

    /// The handler named `name`, made from the function's environment (reading the token secret
    /// from Secrets Manager once, at start).
    public static func handler(named name: String, environment: [String: String]) async throws(LambdaError) -> any LambdaHandler {
        guard names.contains(name) else { throw LambdaError("unknown handler \(name); expected one of \(names.joined(separator: ", "))") }
        let settings = try LambdaSettings(environment: environment)
        guard let client = AWSClient(environment: environment) else {
            throw LambdaError("no AWS credentials or region in the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION)")
        }
        let secret: String
        do {
            secret = try await SecretsManager(client: client).value(of: settings.secretID)
        } catch {
            throw LambdaError("cannot read the token secret \(settings.secretID): \(error)")
        }
        var tokens = TokenConfiguration()
        tokens.secret = secret
        tokens.leeway = settings.tokenLeeway
        tokens.entitiesClaim = settings.entitiesClaim
        let verifier: TokenVerifier
        do {
            verifier = try await TokenVerifier(configuration: tokens)
        } catch {
            throw LambdaError("the token secret cannot verify tokens: \(error)")
        }
        let table = HeraldTable(database: DynamoDB(client: client, table: settings.table))
        switch name {
        case "websocket":
            return WebSocketHandler(table: table, client: client, verifier: verifier, settings: settings)
        case "authorizer":
            return AuthorizerHandler(verifier: verifier)
        case "fanout":
            guard let endpoint = settings.managementEndpoint else { throw LambdaError("HERALD_MANAGEMENT_ENDPOINT is not set") }
            return FanOutHandler(table: table, api: ManagementAPI(client: client, endpoint: endpoint), settings: settings)
        default:
            return TestTokenHandler(issuer: TokenIssuer(secret: secret))
        }
    }
}
