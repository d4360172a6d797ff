import AWSSignature
import AsyncHTTPClient
import Foundation
import HeraldCore
import NIOCore
import NIOHTTP1

@testable import HeraldLambda

/// moto's server (a local AWS: DynamoDB, Secrets Manager, SQS…), started once per test process
/// on 127.0.0.1 and a free port; stopped when the process ends. Needs `pip install "moto[server]"`
/// (`.ci/run` installs it).
enum TestMoto {
    private static let endpoint = Task { try await start() }

    /// A client for moto with test credentials in `us-east-1`.
    static func client() async throws -> AWSClient {
        AWSClient(credentials: .init(accessKeyID: "testing", secretAccessKey: "testing"), region: "us-east-1", endpoint: try await endpoint.value)
    }

    /// A new, empty table laid out as the SAM template makes it (`pk`, `sk` strings).
    static func freshTable() async throws -> DynamoDB {
        let client = try await client()
        let name = "herald-test-\(UInt64.random(in: 1...UInt64.max))"
        _ = try await client.json(
            service: "dynamodb",
            target: "DynamoDB_20120810.CreateTable",
            [
                "TableName": .string(name), "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [["AttributeName": "pk", "AttributeType": "S"], ["AttributeName": "sk", "AttributeType": "S"]],
                "KeySchema": [["AttributeName": "pk", "KeyType": "HASH"], ["AttributeName": "sk", "KeyType": "RANGE"]],
            ]
        )
        return DynamoDB(client: client, table: name)
    }

    /// A new secret holding `value`; returns its id.
    static func secret(_ value: String) async throws -> String {
        let name = "herald-test-secret-\(UInt64.random(in: 1...UInt64.max))"
        _ = try await client().json(
            service: "secretsmanager",
            target: "secretsmanager.CreateSecret",
            version: "1.1",
            ["Name": .string(name), "SecretString": .string(value)]
        )
        return name
    }

    /// A new SQS queue (FIFO when `fifo`); returns its URL.
    static func queue(fifo: Bool = false) async throws -> String {
        let name = "herald-test-\(UInt64.random(in: 1...UInt64.max))" + (fifo ? ".fifo" : "")
        var request: [String: JSONValue] = ["QueueName": .string(name)]
        if fifo { request["Attributes"] = ["FifoQueue": "true"] }
        let answer = try await client().json(service: "sqs", target: "AmazonSQS.CreateQueue", .object(request))
        guard let url = answer["QueueUrl"]?.stringValue else { throw TestFailure("CreateQueue gave no QueueUrl: \(answer)") }
        return url
    }

    /// Every message waiting in a queue now (received, then deleted): body, message group, string attributes.
    static func drain(_ queueURL: String) async throws -> [(body: String, group: String?, attributes: [String: String])] {
        var messages: [(body: String, group: String?, attributes: [String: String])] = []
        while true {
            let answer = try await client().json(
                service: "sqs",
                target: "AmazonSQS.ReceiveMessage",
                [
                    "QueueUrl": .string(queueURL), "MaxNumberOfMessages": .int(10), "MessageSystemAttributeNames": ["MessageGroupId"],
                    "AttributeNames": ["All"], "MessageAttributeNames": ["All"], "VisibilityTimeout": .int(30),
                ]
            )
            guard case .array(let received)? = answer["Messages"], !received.isEmpty else { return messages }
            for message in received {
                let attributes = (message["MessageAttributes"]?.objectValue ?? [:]).compactMapValues { $0["StringValue"]?.stringValue }
                messages.append((message["Body"]?.stringValue ?? "", message["Attributes"]?["MessageGroupId"]?.stringValue, attributes))
                _ = try await client().json(
                    service: "sqs",
                    target: "AmazonSQS.DeleteMessage",
                    [
                        "QueueUrl": .string(queueURL), "ReceiptHandle": message["ReceiptHandle"] ?? "",
                    ]
                )
            }
        }
    }

    private static func start() async throws -> String {
        let probe = try await runToEnd("/usr/bin/env", ["python3", "-c", "import moto.server, flask"])
        guard probe.status == 0 else { throw TestFailure("the AWS tests need moto's server: pip install \"moto[server]\" (.ci/run does)") }
        let port = try freePort()
        let log = FileManager.default.temporaryDirectory.appending(path: "herald-test-moto-\(port).log").path
        // moto ignores SIGTERM and SIGINT.
        let process = try startWatched(
            "python3 -m moto.server -H 127.0.0.1 -p \(port) >\"\(log)\" 2>&1",
            stoppedWith: "KILL",
            thenRun: #"rm -f "\#(log)""#
        )
        let url = "http://127.0.0.1:\(port)"
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            if let answer = try? await HTTPClient.shared.execute(HTTPClientRequest(url: url + "/moto-api/"), timeout: .seconds(2)),
                answer.status == .ok
            {
                return url
            }
            guard ContinuousClock.now < deadline, process.isRunning else {
                throw TestFailure("moto's server did not start: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}
