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
