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

    private func resources(of type: String, in template: JSONValue) -> [String: JSONValue] {
        (template["Resources"]?.objectValue ?? [:]).filter { $0.value["Type"] == .string(type) }
    }

    @Test func cfnLintPassesIt() async throws {
        let lint = try await runToEnd("/usr/bin/env", ["cfn-lint", Self.folder.appending(path: "template.yaml").path], timeout: .seconds(120))
        #expect(lint.status == 0, "cfn-lint: \(lint.output)\(lint.errors)")
    }

    /// The functions' architecture is one parameter (arm64 by default, as the seed's), and the
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
            #expect(args.contains("--platform \(platform) ") && args.contains("swift:6.2-amazonlinux2") && args.contains("--scratch-path .build/lambda-build-\(arch)"), "\(args)")
        }
        let wrong = try await runToEnd("/usr/bin/env", [path, script, "sparc"])
        #expect(wrong.status == 2 && wrong.errors.contains("must be arm64 or x86_64, not sparc"))
        let makefile = try String(contentsOf: Self.folder.appending(path: "Makefile"), encoding: .utf8)
        #expect(makefile.contains("build-lambda.sh $(ARCH)") && makefile.contains("Architecture=$(ARCH)") && makefile.contains("ARCH ?= arm64"))
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
        let variables = Set(template["Globals"]?["Function"]?["Environment"]?["Variables"]?.objectValue?.keys.map { $0 } ?? [])
        #expect(variables.isSubset(of: Set(LambdaSettings.variables)) && variables.contains("HERALD_TABLE") && variables.contains("HERALD_SECRET_ID"))
        let routes = Set(resources(of: "AWS::ApiGatewayV2::Route", in: template).values.compactMap { $0["Properties"]?["RouteKey"]?.stringValue })
        #expect(routes == ["$connect", "$disconnect", "$default", "subscribe", "unsubscribe", "refresh", "ping"])
        let table = try #require(resources(of: "AWS::DynamoDB::Table", in: template).values.first?["Properties"])
        #expect(table["KeySchema"] == [["AttributeName": "pk", "KeyType": "HASH"], ["AttributeName": "sk", "KeyType": "RANGE"]])
        #expect(table["TimeToLiveSpecification"] == ["AttributeName": "ttl", "Enabled": .bool(true)])
        let detailTypes = resources(of: "AWS::Events::Rule", in: template).values.compactMap { $0["Properties"]?["EventPattern"]?["detail-type"] }
        #expect(Set(detailTypes) == [[.string(Event.entityUpdatedDetailType)], [.string(Event.userNotificationDetailType)]])
    }
}
