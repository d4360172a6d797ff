import Foundation
public import HeraldCore
public import HeraldTokens

/// The `$connect` route's REQUEST authorizer (PROTOCOL.md §1, deploy/aws/README.md): the token from the first of
/// `access_token`, `token`, `Sec-WebSocket-Protocol: websocket, <jwt>` and `Authorization: Bearer`,
/// verified as the server verifies it. Allowed: an IAM policy for the route, and the user, the
/// token's `exp` and (with `HERALD_SUBSCRIPTION_AUTH` `claims`) the entities its claim allows in
/// the context the `$connect` function reads. Refused: `Unauthorized`, which API Gateway
/// answers with `401` (it does not pass on Herald's JSON body or reason).
public struct AuthorizerHandler: LambdaHandler {
    let verifier: TokenVerifier

    public init(verifier: TokenVerifier) { self.verifier = verifier }

    public func handle(_ event: JSONValue, context: LambdaContext) async throws -> JSONValue {
        let query = event["queryStringParameters"]?.objectValue ?? [:]
        let credentials = ConnectCredentials.extract(
            query: { query[$0]?.stringValue },
            subprotocolHeader: WebSocketHandler.header("sec-websocket-protocol", in: event),
            authorization: WebSocketHandler.header("authorization", in: event)
        )
        guard case .success(let found) = credentials, case .success(let identity) = verifier.verify(found.token) else {
            throw LambdaError.unauthorized
        }
        var context = Self.context(of: found.token, identity)
        // With claim authorisation, what the token may subscribe to (a context value is a string, number or boolean: JSON text).
        if let allowed = identity.allowedEntities {
            context["entities"] = .string(String(decoding: JSON.encode(JSONValue.array(allowed.patterns.map { .string($0) })), as: UTF8.self))
        }
        return [
            "principalId": .string(identity.userID.rawValue),
            "policyDocument": [
                "Version": "2012-10-17",
                "Statement": [["Action": "execute-api:Invoke", "Effect": "Allow", "Resource": event["methodArn"] ?? "*"]],
            ],
            "context": .object(context),
        ]
    }

    /// What the `$connect` function (and any other integration) reads from the authorizer: the
    /// user, the token's `exp`, and the AWS quick start's `firstName`, `lastName` and `sub` from
    /// the token's `data` when it has them (strings; API Gateway's context holds no objects).
    static func context(of token: String, _ identity: Identity) -> [String: JSONValue] {
        var context: [String: JSONValue] = ["userId": .string(identity.userID.rawValue), "exp": .int(identity.expiresAt)]
        let parts = token.split(separator: ".")
        guard parts.count == 3 else { return context }
        var base64 = parts[1].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        guard let payload = Data(base64Encoded: base64), let data = JSON.parse(Array(payload))?["data"]?.objectValue else { return context }
        for field in ["firstName", "lastName", "sub"] {
            if case .string(let value)? = data[field] { context[field] = .string(value) }
        }
        return context
    }
}
