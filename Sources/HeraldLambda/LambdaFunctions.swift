import Foundation
import HeraldCore
import HeraldTokens
public import Logging

/// The functions of the AWS shape, by their `Handler` name in the SAM template.
public enum LambdaFunctions {
    public static let names = ["websocket", "authorizer", "fanout", "router", "publish", "test-token"]

    /// The handler named `name`, made from the function's environment. Only the functions that
    /// sign or verify tokens read the token secret (from Secrets Manager, once, at start).
    public static func handler(
        named name: String,
        environment: [String: String],
        logger: Logger = Logger(label: "herald.lambda")
    ) async throws(LambdaError) -> any LambdaHandler {
        guard names.contains(name) else { throw LambdaError("unknown handler \(name); expected one of \(names.joined(separator: ", "))") }
        let settings = try LambdaSettings(environment: environment)
        func required(_ value: String?, _ variable: String) throws(LambdaError) -> String {
            guard let value else { throw LambdaError("\(variable) is not set") }
            return value
        }
        let needsTable = ["websocket", "fanout"].contains(name)
        let tableName = needsTable ? try required(settings.table, "HERALD_TABLE") : settings.table
        guard let client = AWSClient(environment: environment) else {
            throw LambdaError("no AWS credentials or region in the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION)")
        }
        let table = HeraldTable(database: DynamoDB(client: client, table: tableName ?? ""))
        let refusals = Refusals(sqs: SQS(client: client), queueURL: settings.refusedQueueURL, logger: logger)
        switch name {
        case "fanout":
            let endpoint = try required(settings.managementEndpoint, "HERALD_MANAGEMENT_ENDPOINT")
            return FanOutHandler(
                table: table,
                api: ManagementAPI(client: client, endpoint: endpoint),
                settings: settings,
                refusals: refusals,
                logger: logger
            )
        case "router":
            return RouterHandler(
                sqs: SQS(client: client),
                queueURL: try required(settings.entityQueueURL, "HERALD_ENTITY_QUEUE_URL"),
                refusals: refusals,
                logger: logger
            )
        case "publish":
            let secretID = try required(settings.publishKeySecretID, "HERALD_PUBLISH_KEY_SECRET_ID")
            let keys: [String]
            do {
                keys = try await SecretsManager(client: client).value(of: secretID).split(separator: ",").map {
                    $0.trimmingCharacters(in: .whitespaces)
                }
                .filter { !$0.isEmpty }
            } catch {
                throw LambdaError("cannot read the publish keys \(secretID): \(error)")
            }
            guard !keys.isEmpty else { throw LambdaError("the secret \(secretID) holds no publish key") }
            return PublishHandler(bus: EventBridge(client: client, bus: settings.eventBus), keys: keys, logger: logger)
        default:
            break
        }
        let secretID = try required(settings.secretID, "HERALD_SECRET_ID")
        let secret: String
        do {
            secret = TokenSecret.signature(in: try await SecretsManager(client: client).value(of: secretID))
        } catch {
            throw LambdaError("cannot read the token secret \(secretID): \(error)")
        }
        if name == "test-token" { return TestTokenHandler(issuer: TokenIssuer(secret: secret)) }
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
        if name == "authorizer" { return AuthorizerHandler(verifier: verifier) }
        return WebSocketHandler(table: table, client: client, verifier: verifier, settings: settings)
    }
}

/// The token secret as Secrets Manager holds it: the string itself, or the AWS quick start's
/// form, a JSON object whose `signature` is the secret (so its existing secrets and token
/// issuers keep working).
public enum TokenSecret {
    public static func signature(in secretString: String) -> String {
        if case .object(let object)? = JSON.parse(Array(secretString.utf8)), case .string(let signature)? = object["signature"] { return signature }
        return secretString
    }
}
