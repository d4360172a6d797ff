import Foundation
import HeraldClient
import HeraldCore
import HeraldServer
import Testing

/// The AWS SDK's ApiGatewayManagementApi client (boto3, and the AWS CLI) pointed at a live Herald:
/// SigV4-signed with a publish key as the secret access key, unchanged otherwise.
@Suite struct AWSSDKTests {
    static let script = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("scripts/aws-sdk-management-api.py")

    @Test func boto3PostsGetsAndDeletes() async throws {
        let server = try await TestServer.start()
        let socket = try await server.connect(user: "boto-user")
        let id = try await server.connectionID(of: "boto-user")
        let python = try HeraldProcess(
            URL(fileURLWithPath: "/usr/bin/env"),
            ["python3", Self.script.path, server.httpURL, TestServer.publishKey, id],
            environment: [:]
        )
        var steps: [String: JSONValue] = [:]
        for _ in 0..<5 {
            guard let line = await python.line(timeout: .seconds(60)), let step = JSON.parse(line) else { break }
            steps[step["step"]?.stringValue ?? ""] = step
        }
        let code = await python.exitCode()
        let errors = await python.standardError()
        #expect(code == 0, "\(errors)")
        #expect(steps["post"]?["ok"] == .bool(true))
        #expect(steps["get"]?["sourceIp"] == "127.0.0.1")
        #expect(steps["wrong-key"]?["status"] == .int(401))
        #expect(steps["unknown"]?["error"] == "GoneException")
        #expect(steps["delete"]?["ok"] == .bool(true))
        // What the client saw: the posted bytes, then the close.
        #expect(await socket.next() == .text(#"{"from":"boto3"}"#))
        #expect(try await socket.closeCode() == 4003)
        try await server.stop()
    }

    /// The CLI signs for its configured region, which the server is configured to accept.
    @Test func awsCLIPostsToAConnection() async throws {
        let server = try await TestServer.start { $0.awsRegion = "eu-west-1" }
        let socket = try await server.connect(user: "cli-user")
        let id = try await server.connectionID(of: "cli-user")
        let cli = try HeraldProcess(
            URL(fileURLWithPath: "/usr/bin/env"),
            [
                "aws", "apigatewaymanagementapi", "post-to-connection", "--endpoint-url", server.httpURL, "--connection-id", id, "--data",
                "from the CLI",
            ],
            environment: [
                "AWS_ACCESS_KEY_ID": "herald", "AWS_SECRET_ACCESS_KEY": TestServer.publishKey, "AWS_DEFAULT_REGION": "eu-west-1",
                "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            ]
        )
        let code = await cli.exitCode()
        let errors = await cli.standardError()
        #expect(code == 0, "\(errors)")
        #expect(await socket.next() == .text("from the CLI"))
        try await server.stop()
    }
}
