import Foundation
import HeraldCore
import NIOHTTP1

/// API Gateway's Management API for one WebSocket API stage: send a frame to a connection, close it.
public struct ManagementAPI: Sendable {
    public let client: AWSClient
    /// `https://{api-id}.execute-api.{region}.amazonaws.com/{stage}` (or a custom domain's URL).
    public let endpoint: String

    public init(client: AWSClient, endpoint: String) {
        self.client = client
        self.endpoint = endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint
    }

    /// What became of a frame for a connection.
    public enum Outcome: Equatable, Sendable {
        case sent
        /// The connection is gone (`410`): forget it.
        case gone
        /// Refused for good (`400`, `403`, `413`: a frame API Gateway will never take, a
        /// connection the role may not post to): trying again would not help.
        case refused(status: Int, type: String)
    }

    /// The most one post may carry: API Gateway's WebSocket message limit, 128 KB.
    public static let largestFrame = 128 * 1024

    /// `PostToConnection`: `data` as one text frame. Throttling, `5xx` and broken connections
    /// are retried with back-off (the client's `RetryPolicy`), within `deadline`; what is still
    /// failing after that is thrown.
    public func post(_ data: [UInt8], to connectionID: String, deadline: ContinuousClock.Instant? = nil) async throws -> Outcome {
        let answer = try await client.send(.POST, url: url(of: connectionID), service: "execute-api", body: data, deadline: deadline)
        switch answer.status {
        case 200: return .sent
        case 410: return .gone
        case 400, 403, 413: return .refused(status: answer.status, type: AWSError(answer).type)
        default: throw AWSError(answer)
        }
    }

    /// `DeleteConnection`: closes the connection (API Gateway sends the close frame).
    public func delete(_ connectionID: String) async throws -> Outcome {
        let answer = try await client.send(.DELETE, url: url(of: connectionID), service: "execute-api", body: [])
        switch answer.status {
        case 200, 204: return .sent
        case 410: return .gone
        default: throw AWSError(answer)
        }
    }

    private func url(of connectionID: String) -> String {
        let escaped =
            connectionID.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-_.~"))) ?? connectionID
        return "\(endpoint)/@connections/\(escaped)"
    }
}

/// Secrets Manager's `GetSecretValue`.
public struct SecretsManager: Sendable {
    public let client: AWSClient

    public init(client: AWSClient) { self.client = client }

    /// The secret's string value.
    public func value(of secretID: String) async throws -> String {
        let answer = try await client.json(
            service: "secretsmanager",
            target: "secretsmanager.GetSecretValue",
            version: "1.1",
            ["SecretId": .string(secretID)]
        )
        guard let value = answer["SecretString"]?.stringValue else {
            throw AWSError(status: 200, type: "UnexpectedAnswer", message: "the secret \(secretID) has no SecretString")
        }
        return value
    }
}
