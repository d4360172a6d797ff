public import HeraldCore
public import HeraldTokens

/// `CreateTestJwt` (the seed's function): `{"authToken": "…"}`, a token for `userId` (default
/// `myuserid`), valid `ttlSeconds` (default 3600), signed with the deployment's secret.
public struct TestTokenHandler: LambdaHandler {
    let issuer: TokenIssuer

    public init(issuer: TokenIssuer) { self.issuer = issuer }

    public func handle(_ event: JSONValue) async throws -> JSONValue {
        var claims = TokenIssuer.Claims()
        if let user = event["userId"]?.stringValue {
            guard UserID(user) != nil else { throw LambdaError("userId must be \(EntityID.rule)") }
            claims.userID = user
        }
        if case .int(let seconds)? = event["ttlSeconds"], seconds > 0 { claims.ttl = .seconds(seconds) }
        return ["authToken": .string(try await issuer.token(for: claims))]
    }
}
