import Foundation
import HeraldClient
import HeraldCore
import HeraldServer
import HeraldTokens
import Testing

@testable import HeraldLambda

/// The same client messages through both shapes — the standalone server over a real WebSocket,
/// the AWS shape's WebSocket function against moto's DynamoDB and a local Management API — answered
/// with the same frames, compared whole (every field, in order), not by their codes. Both run
/// Core's `SessionStateMachine`; what may differ is only what is random by design: an epoch's
/// value and a published event's `id` and `time`, which are put in placeholders first.
@Suite struct ShapeParityTests {
    static let secret = "parity-secret-0123456789abcdef-0123456789abcdef"
    /// Both shapes get the very same tokens (same `exp`), so `refreshed` frames match too.
    static let issuedAt = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down))

    /// What one step does on the connection.
    enum Step: Sendable {
        /// A text message; `<epoch>` stands for the epoch of the last ack this shape sent.
        case text(String)
        case binary
    }

    /// One connection's conversation, from the same start in both shapes.
    struct Scenario: Sendable {
        /// With claim authorisation: the entities the connect token allows.
        var entities: [String]?
        /// Entity updates published before the client connects.
        var published: [(entity: String, message: String)] = []
        var steps: [Step]
    }

    static func token(_ user: String = "ada", ttl: Duration = .seconds(3600), entities: [String]? = nil) async throws -> String {
        var claims = TokenIssuer.Claims()
        claims.userID = user
        claims.ttl = ttl
        claims.entities = entities
        return try await TokenIssuer(secret: secret).token(for: claims, now: issuedAt)
    }

    // MARK: Scenarios

    @Test func errorsLimitsAndRepeatsAreAnsweredAlike() async throws {
        try await expectParity(
            Scenario(steps: [
                .text("not json"),
                .text(#"{"action":"dance","requestId":2}"#),
                .text(#"{"action":"subscribe","requestId":"none"}"#),
                .text(#"{"action":"subscribe","entityIds":["a","b","c"],"requestId":"long"}"#),
                .text(#"{"action":"subscribe","entityIds":["a","a"],"requestId":1}"#),
                .text(#"{"action":"subscribe","entityIds":["b","c"],"requestId":2}"#),
                // Subscribed already: acked, nothing replayed (the AWS shape used to replay).
                .text(#"{"action":"subscribe","entityId":"a","since":0}"#),
                .text(#"{"action":"unsubscribe","entityIds":["a","nope"],"requestId":3}"#),
                .text(#"{"action":"subscribe","entityId":"c","requestId":4}"#),
                .text(#"{"action":"ping","requestId":9}"#),
                .binary,
            ])
        )
    }

    @Test func refreshIsAnsweredAlike() async throws {
        try await expectParity(
            Scenario(steps: [
                .text(#"{"action":"refresh","token":"\#(try await Self.token("ada", ttl: .seconds(7200)))","requestId":1}"#),
                .text(#"{"action":"refresh","token":"\#(try await Self.token("bob"))","requestId":2}"#),
                .text(#"{"action":"refresh","token":"x.y.z","requestId":3}"#),
                .text(#"{"action":"refresh","token":"\#(try await Self.token("ada", ttl: .seconds(-120)))","requestId":4}"#),
                .text(#"{"action":"refresh","requestId":5}"#),
            ])
        )
    }

    @Test func aResumeIsJudgedAlike() async throws {
        try await expectParity(
            Scenario(
                published: [("order-7", "m1"), ("order-7", "m2"), ("order-7", "m3")],
                steps: [
                    .text(#"{"action":"subscribe","entityId":"order-7","since":1}"#),
                    .text(#"{"action":"unsubscribe","entityId":"order-7"}"#),
                    // Two kept of three: the tail, not recovered.
                    .text(#"{"action":"subscribe","entityId":"order-7","since":0}"#),
                    .text(#"{"action":"unsubscribe","entityId":"order-7"}"#),
                    // Beyond the latest seq: a reset stream.
                    .text(#"{"action":"subscribe","entityId":"order-7","since":9,"epoch":"<epoch>"}"#),
                    .text(#"{"action":"unsubscribe","entityId":"order-7"}"#),
                    .text(#"{"action":"subscribe","entityId":"order-7","since":2,"epoch":"other"}"#),
                    .text(#"{"action":"unsubscribe","entityId":"order-7"}"#),
                    .text(#"{"action":"subscribe","entityIds":["order-7","order-8"],"since":2,"epoch":"<epoch>","requestId":"r"}"#),
                ]
            )
        )
    }

    /// `--subscription-auth claims` (`HERALD_SUBSCRIPTION_AUTH` `claims` on AWS): the claim
    /// decides, and a refresh that narrows it ends what it no longer allows.
    @Test func claimAuthorisationIsAppliedAlike() async throws {
        try await expectParity(
            Scenario(
                entities: ["order-*"],
                steps: [
                    .text(#"{"action":"subscribe","entityIds":["order-1","x"],"requestId":1}"#),
                    .text(#"{"action":"subscribe","entityId":"order-2"}"#),
                    .text(#"{"action":"refresh","token":"\#(try await Self.token(entities: ["order-2"]))","requestId":2}"#),
                    .text(#"{"action":"subscribe","entityIds":["order-1","order-2"],"requestId":3}"#),
                ]
            )
        )
    }

    // MARK: Running both shapes

    /// Runs `scenario` on both shapes and expects the same frames, step by step.
    private func expectParity(_ scenario: Scenario, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let server = try await ServerShape.run(scenario)
        let lambda = try await LambdaShape.run(scenario)
        #expect(server.count == scenario.steps.count && lambda.count == scenario.steps.count, sourceLocation: sourceLocation)
        for (index, (onServer, onLambda)) in zip(server, lambda).enumerated() {
            #expect(
                onServer == onLambda,
                "step \(index) (\(scenario.steps[index])): server \(onServer), AWS \(onLambda)",
                sourceLocation: sourceLocation
            )
            #expect(!onServer.isEmpty, "step \(index) was answered", sourceLocation: sourceLocation)
        }
    }

    /// Frames with what is random by design replaced: epochs, published events' `id` and `time`.
    static func normalized(_ frame: JSONValue) -> JSONValue {
        guard case .object(var fields) = frame else { return frame }
        if fields["epoch"] != nil { fields["epoch"] = "<epoch>" }
        if fields["type"] == .string(Push.entityUpdatedType) {
            fields["id"] = "<id>"
            fields["time"] = "<time>"
        }
        return .object(fields)
    }

    /// The text to send, with `<epoch>` replaced by the last epoch this shape acked.
    static func text(_ template: String, lastEpoch: String?) -> String {
        template.replacingOccurrences(of: "<epoch>", with: lastEpoch ?? "")
    }

    /// The standalone server, over a real WebSocket.
    private enum ServerShape {
        static func run(_ scenario: Scenario) async throws -> [[JSONValue]] {
            let server = try await TestServer.start {
                $0.tokens.secret = ShapeParityTests.secret
                $0.limits.maxSubscriptions = 2
                $0.history.size = 2
                if scenario.entities != nil { $0.tokens.entitiesClaim = "entities" }
            }
            for (entity, message) in scenario.published { _ = try await server.publishEntity(entity, message: message) }
            let token = try await ShapeParityTests.token(entities: scenario.entities)
            let socket = try await HeraldSocket.connect(url: server.wsURL + "?access_token=" + token)
            var answers: [[JSONValue]] = []
            var lastEpoch: String?
            for (index, step) in scenario.steps.enumerated() {
                switch step {
                case .text(let template): socket.send(ShapeParityTests.text(template, lastEpoch: lastEpoch))
                case .binary: socket.sendBinary([0, 1, 2])
                }
                // A marker after each step: its pong ends the step's answers.
                let marker = "step-\(index)"
                socket.send(#"{"action":"ping","requestId":"\#(marker)"}"#)
                var frames: [JSONValue] = []
                while true {
                    let frame = try await socket.json()
                    if frame == ["type": "pong", "requestId": .string(marker)] { break }
                    if let epoch = frame["epoch"]?.stringValue { lastEpoch = epoch }
                    frames.append(ShapeParityTests.normalized(frame))
                }
                answers.append(frames)
            }
            try await server.stop()
            return answers
        }
    }

    /// The AWS shape's functions as Lambda makes them, fed what API Gateway and SQS send.
    private enum LambdaShape {
        static func run(_ scenario: Scenario) async throws -> [[JSONValue]] {
            let database = try await TestMoto.freshTable()
            let api = try await FakeManagementAPI.start()
            var environment = [
                "HERALD_TABLE": database.table, "HERALD_SECRET_ID": try await TestMoto.secret(ShapeParityTests.secret),
                "HERALD_MANAGEMENT_ENDPOINT": api.endpoint, "HERALD_AWS_ENDPOINT": database.client.endpoint ?? "",
                "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": FakeManagementAPI.secret, "AWS_REGION": "us-east-1",
                "HERALD_MAX_SUBSCRIPTIONS": "2", "HERALD_HISTORY_SIZE": "2",
            ]
            if scenario.entities != nil { environment["HERALD_SUBSCRIPTION_AUTH"] = "claims" }
            let websocket = try await LambdaFunctions.handler(named: "websocket", environment: environment, logger: LogRecords().logger)
            let authorizer = try await LambdaFunctions.handler(named: "authorizer", environment: environment, logger: LogRecords().logger)
            let fanOut = try await LambdaFunctions.handler(named: "fanout", environment: environment, logger: LogRecords().logger)
            if !scenario.published.isEmpty {
                let records: [JSONValue] = scenario.published.enumerated().map { index, update in
                    let body: JSONValue = [
                        "version": "0", "id": .string(UUID().uuidString), "detail-type": "Entity Updated", "source": "tests",
                        "time": "2026-12-01T10:00:00Z", "detail": ["entityId": .string(update.entity), "message": .string(update.message)],
                    ]
                    return [
                        "messageId": .string("message-\(index)"), "body": .string(String(decoding: JSON.encode(body), as: UTF8.self)),
                        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:herald-entities.fifo",
                    ]
                }
                let result = try await fanOut.handle(["Records": .array(records)])
                #expect(result == ["batchItemFailures": []])
            }
            // The authorizer admits the token; `$connect` records what it put in the context.
            let token = try await ShapeParityTests.token(entities: scenario.entities)
            let admitted = try await authorizer.handle([
                "queryStringParameters": ["access_token": .string(token)], "methodArn": "arn:aws:execute-api:us-east-1:1:api/prod/$connect",
            ])
            let id = "parity-1"
            api.open(id)
            #expect(try await websocket.handle(event("CONNECT", id, authorizer: admitted["context"])) == ["statusCode": .int(200)])
            var answers: [[JSONValue]] = []
            var lastEpoch: String?
            for step in scenario.steps {
                let before = api.frames(of: id).count
                switch step {
                case .text(let template):
                    _ = try await websocket.handle(event("MESSAGE", id, body: ShapeParityTests.text(template, lastEpoch: lastEpoch)))
                case .binary:
                    _ = try await websocket.handle(event("MESSAGE", id, body: "AAEC", base64: true))
                }
                let frames = Array(api.frames(of: id).dropFirst(before))
                for frame in frames { if let epoch = frame["epoch"]?.stringValue { lastEpoch = epoch } }
                answers.append(frames.map(ShapeParityTests.normalized))
            }
            try await api.stop()
            return answers
        }

        static func event(_ type: String, _ id: String, body: String? = nil, base64: Bool = false, authorizer: JSONValue? = nil) -> JSONValue {
            var context: [String: JSONValue] = [
                "eventType": .string(type), "connectionId": .string(id),
                "routeKey": type == "MESSAGE" ? "$default" : .string("$\(type.lowercased())"),
                "domainName": "example.execute-api.us-east-1.amazonaws.com", "stage": "prod",
                "identity": ["sourceIp": "203.0.113.7", "userAgent": "tests"], "connectedAt": .int(1_795_000_000_000),
            ]
            if let authorizer { context["authorizer"] = authorizer }
            var event: [String: JSONValue] = ["requestContext": .object(context), "isBase64Encoded": .bool(base64)]
            if let body { event["body"] = .string(body) }
            return .object(event)
        }
    }
}
