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
    }

    /// `PostToConnection`: `data` as one text frame.
    public func post(_ data: [UInt8], to connectionID: String) async throws -> Outcome {
        let answer = try await client.send(.POST, url: url(of: connectionID), service: "execute-api", body: data)
        switch answer.status {
        case 200: return .sent
        case 410: return .gone
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
        let escaped = connectionID.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-_.~"))) ?? connectionID
        return "\(endpoint)/@connections/\(escaped)"
    }
}

/// Secrets Manager's `GetSecretValue`.
public struct SecretsManager: Sendable {
    public let client: AWSClient

    public init(client: AWSClient) { self.client = client }

    /// The secret's string value.
    public func value(of secretID: String) async throws -> String {
        let answer = try await client.json(service: "secretsmanager", target: "secretsmanager.GetSecretValue", version: "1.1", ["SecretId": .string(secretID)])
        guard let value = answer["SecretString"]?.stringValue else {
            throw AWSError(status: 200, type: "UnexpectedAnswer", message: "the secret \(secretID) has no SecretString")
        }
        return value
    }
}
