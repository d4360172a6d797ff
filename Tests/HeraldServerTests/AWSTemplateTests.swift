import Foundation
import HeraldCore
import HeraldLambda
import Testing
import Yams

/// deploy/aws/template.yaml passes cfn-lint and agrees with the Swift code it deploys.
@Suite struct AWSTemplateTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appending(path: "deploy/aws")

    private func template() throws -> JSONValue {
        let text = try String(contentsOf: Self.folder.appending(path: "template.yaml"), encoding: .utf8)
        return APIDocument.json(try #require(try Yams.compose(yaml: text)))
    }

    private func array(_ value: JSONValue?) -> [JSONValue] {
        if case .array(let items)? = value { items } else { [] }
    }

    private func int(_ value: JSONValue?) -> Int? {
        if case .int(let number)? = value { number } else { nil }
    }

    private func resources(of type: String, in template: JSONValue) -> [String: JSONValue] {
        (template["Resources"]?.objectValue ?? [:]).filter { $0.value["Type"] == .string(type) }
    }

    @Test func cfnLintPassesIt() async throws {
        let lint = try await runToEnd("/usr/bin/env", ["cfn-lint", Self.folder.appending(path: "template.yaml").path], timeout: .seconds(120))
        #expect(lint.status == 0, "cfn-lint: \(lint.output)\(lint.errors)")
    }

    /// The functions' architecture is one parameter (arm64 by default, as the AWS quick start's), and the
    /// build makes a binary for it: `docker run --platform` of that architecture.
    @Test func theBuildIsForTheTemplatesArchitecture() async throws {
        let template = try template()
        #expect(template["Parameters"]?["Architecture"]?["Default"] == "arm64")
        #expect(template["Parameters"]?["Architecture"]?["AllowedValues"] == ["arm64", "x86_64"])
        #expect(template["Globals"]?["Function"]?["Architectures"] == ["Architecture"], "!Ref Architecture (the YAML reading drops the tag)")
        let bin = FileManager.default.temporaryDirectory.appending(path: "herald-fake-docker-\(UInt64.random(in: 1...UInt64.max))")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: bin) }
        // A docker that records how it was run, and fails (so nothing is copied).
        let docker = bin.appending(path: "docker")
        try "#!/bin/sh\necho \"$@\" > \"$(dirname \"$0\")/args\"\nexit 3\n".write(to: docker, atomically: true, encoding: .utf8)
        chmod(docker.path, 0o755)
        let script = Self.folder.appending(path: "build-lambda.sh").path
        let path = "PATH=\(bin.path):\(ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")"
        for (arch, platform) in [("arm64", "linux/arm64"), ("x86_64", "linux/amd64")] {
            let run = try await runToEnd("/usr/bin/env", [path, script, arch])
            #expect(run.status == 3)
            let args = try String(contentsOf: bin.appending(path: "args"), encoding: .utf8)
            #expect(
                args.contains("--platform \(platform) ") && args.contains("swift:6.2-amazonlinux2")
                    && args.contains("--scratch-path .build/lambda-build-\(arch)"),
                "\(args)"
            )
        }
        let wrong = try await runToEnd("/usr/bin/env", [path, script, "sparc"])
        #expect(wrong.status == 2 && wrong.errors.contains("must be arm64 or x86_64, not sparc"))
        let makefile = try String(contentsOf: Self.folder.appending(path: "Makefile"), encoding: .utf8)
        #expect(makefile.contains("build-lambda.sh $(ARCH)") && makefile.contains("Architecture=$(ARCH)") && makefile.contains("ARCH ?= arm64"))
    }

    /// `aws events put-events --entries file://examples/…` as with the AWS quick start; each is
    /// also a body `POST /events` takes.
    @Test func theExamplesArePublishable() throws {
        for (file, type) in [
            ("entity-updated.json", Event.entityUpdatedDetailType), ("send-user-push-notification.json", Event.userNotificationDetailType),
        ] {
            let body = try Data(contentsOf: Self.folder.appending(path: "examples/\(file)"))
            guard case .success(let entries) = EventEnvelope.decode(Array(body)), entries.count == 1, case .success(let event) = entries[0] else {
                Issue.record("\(file) is not publishable")
                continue
            }
            switch event {
            case .entityUpdated: #expect(type == Event.entityUpdatedDetailType)
            case .userNotification: #expect(type == Event.userNotificationDetailType)
            }
        }
    }

    @Test func itDeploysWhatTheCodeExpects() throws {
        let template = try template()
        let functions = resources(of: "AWS::Serverless::Function", in: template)
        #expect(Set(functions.values.compactMap { $0["Properties"]?["Handler"]?.stringValue }) == Set(LambdaFunctions.names))
        let makefile = try String(contentsOf: Self.folder.appending(path: "Makefile"), encoding: .utf8)
        for name in functions.keys {
            #expect(makefile.contains("build-\(name)"), "the Makefile builds no \(name)")
            #expect(functions[name]?["Metadata"]?["BuildMethod"] == "makefile")
        }
        let global = Set(template["Globals"]?["Function"]?["Environment"]?["Variables"]?.objectValue?.keys.map { $0 } ?? [])
        #expect(global.isSubset(of: Set(LambdaSettings.variables)) && global.contains("HERALD_TABLE") && !global.contains("HERALD_SECRET_ID"))
        for (name, function) in functions {
            let own = Set(function["Properties"]?["Environment"]?["Variables"]?.objectValue?.keys.map { $0 } ?? [])
            #expect(own.isSubset(of: Set(LambdaSettings.variables)), "\(name): \(own)")
            // Only the functions that sign or verify tokens read (and may read) the secret.
            let handler = function["Properties"]?["Handler"]?.stringValue ?? ""
            let readsSecret = ["websocket", "authorizer", "test-token"].contains(handler)
            #expect(own.contains("HERALD_SECRET_ID") == readsSecret, "\(name)")
            let policies = array(function["Properties"]?["Policies"])
            let readsKeys = own.contains("HERALD_PUBLISH_KEY_SECRET_ID")
            #expect(readsKeys == (handler == "publish"), "\(name)")
            #expect(policies.contains { $0["AWSSecretsManagerGetSecretValuePolicy"] != nil } == (readsSecret || readsKeys), "\(name)")
        }
        let routes = Set(resources(of: "AWS::ApiGatewayV2::Route", in: template).values.compactMap { $0["Properties"]?["RouteKey"]?.stringValue })
        #expect(routes == ["$connect", "$disconnect", "$default", "subscribe", "unsubscribe", "refresh", "ping"])
        let table = try #require(resources(of: "AWS::DynamoDB::Table", in: template).values.first?["Properties"])
        #expect(table["KeySchema"] == [["AttributeName": "pk", "KeyType": "HASH"], ["AttributeName": "sk", "KeyType": "RANGE"]])
        #expect(table["TimeToLiveSpecification"] == ["AttributeName": "ttl", "Enabled": .bool(true)])
        let detailTypes = resources(of: "AWS::Events::Rule", in: template).values.compactMap { $0["Properties"]?["EventPattern"]?["detail-type"] }
        #expect(Set(detailTypes) == [[.string(Event.entityUpdatedDetailType)], [.string(Event.userNotificationDetailType)]])
    }

    /// The setup a production deployment needs: SQS's visibility timeout at least 6 × the
    /// timeout of the function reading the queue (AWS's advice for event source mappings),
    /// partial batch answers, one message group per entity (the router, not a fixed group on the
    /// rule), EventBridge targets with retries and a dead-letter queue, an alarm on every
    /// dead-letter and refused-event queue, the table and secret kept when the stack goes, no
    /// hard-coded `amazonaws.com`, and the AWS quick start's output name.
    @Test func itIsSetUpForProduction() throws {
        let template = try template()
        let text = try String(contentsOf: Self.folder.appending(path: "template.yaml"), encoding: .utf8)
        let all = template["Resources"]?.objectValue ?? [:]
        let timeout = { (function: JSONValue?) in int(function?["Properties"]?["Timeout"]) ?? int(template["Globals"]?["Function"]?["Timeout"]) ?? 3 }
        var mappings = 0
        for (name, function) in resources(of: "AWS::Serverless::Function", in: template) {
            for (_, source) in function["Properties"]?["Events"]?.objectValue ?? [:] where source["Type"] == "SQS" {
                mappings += 1
                #expect(source["Properties"]?["FunctionResponseTypes"] == ["ReportBatchItemFailures"], "\(name)")
                // `!GetAtt Queue.Arn` reads as "Queue.Arn" (the YAML reading drops the tag).
                let queue = try #require(source["Properties"]?["Queue"]?.stringValue.flatMap { all[String($0.split(separator: ".")[0])] })
                let visibility = int(queue["Properties"]?["VisibilityTimeout"]) ?? 30
                #expect(visibility >= 6 * timeout(function), "\(name): visibility \(visibility) s, timeout \(timeout(function)) s")
                #expect(queue["Properties"]?["RedrivePolicy"]?["deadLetterTargetArn"] != nil, "\(name)")
            }
        }
        #expect(mappings == 3)
        let fifo = try #require(all["EntityUpdateQueue"]?["Properties"])
        #expect(
            fifo["FifoQueue"] == .bool(true) && fifo["DeduplicationScope"] == "messageGroup" && fifo["FifoThroughputLimit"] == "perMessageGroupId"
        )
        for rule in resources(of: "AWS::Events::Rule", in: template).values {
            let target = try #require(array(rule["Properties"]?["Targets"]).first as JSONValue?)
            #expect(target["SqsParameters"] == nil, "no fixed message group")
            #expect(target["DeadLetterConfig"]?["Arn"] != nil && target["RetryPolicy"]?["MaximumEventAgeInSeconds"] == .int(86400))
        }
        let alarmed = Set(
            resources(of: "AWS::CloudWatch::Alarm", in: template).values.compactMap {
                array($0["Properties"]?["Dimensions"]).first?["Value"]?.stringValue.map { String($0.split(separator: ".")[0]) }
            }
        )
        let queues = Set(resources(of: "AWS::SQS::Queue", in: template).keys.filter { $0.hasSuffix("DeadLetterQueue") || $0 == "RefusedEventQueue" })
        #expect(alarmed == queues && queues.count == 5)
        for name in ["Table", "TokenSecret", "PublishKeySecret"] {
            #expect(all[name]?["DeletionPolicy"] == "Retain" && all[name]?["UpdateReplacePolicy"] == "Retain", "\(name)")
        }
        #expect(!text.contains("${AWS::Region}.amazonaws.com"), "use ${AWS::URLSuffix}")
        #expect(template["Outputs"]?["WebsocketUri"]?["Value"] == template["Outputs"]?["WebSocketURL"]?["Value"])
        #expect(all["Stage"]?["Properties"]?["DefaultRouteSettings"]?["ThrottlingRateLimit"] != nil)
        #expect(template["Globals"]?["Function"]?["Tracing"] == "Active")
    }
}
