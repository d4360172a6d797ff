public import HeraldCore
public import HeraldTokens

/// `CreateTestJwt` (the AWS quick start's function): `{"authToken": "…"}`, a token for `userId` (default
/// `myuserid`; `firstName`, `lastName` and `sub` as the AWS quick start's, default `Test`, `User`,
/// `examplesub`), valid `ttlSeconds` (default 3600; a whole number from 1 to 31536000, a year —
/// anything else is refused with an error naming the range), signed with the deployment's secret.
public struct TestTokenHandler: LambdaHandler {
    let issuer: TokenIssuer

    public init(issuer: TokenIssuer) { self.issuer = issuer }

    public func handle(_ event: JSONValue, context: LambdaContext) async throws -> JSONValue {
        var claims = TokenIssuer.Claims()
        if let user = event["userId"]?.stringValue {
            guard UserID(user) != nil else { throw LambdaError("userId must be \(EntityID.rule)") }
            claims.userID = user
        }
        for (field, path) in [("firstName", \TokenIssuer.Claims.firstName), ("lastName", \.lastName), ("sub", \.sub)] {
            guard let value = event[field] else { continue }
            guard case .string(let text) = value else { throw LambdaError("\(field) must be a string") }
            claims[keyPath: path] = text
        }
        if let ttl = event["ttlSeconds"] {
            let longest = TokenIssuer.maximumTTL.components.seconds
            guard case .int(let seconds) = ttl, (1...longest).contains(Int64(seconds)) else {
                throw LambdaError("ttlSeconds must be a whole number of seconds from 1 to \(longest) (365 days)")
            }
            claims.ttl = .seconds(seconds)
        }
        return ["authToken": .string(try await issuer.token(for: claims))]
    }
}
