import Foundation
import HeraldCore
import Testing

@testable import HeraldLambda

/// The AWS shape's HTTP publish API: the publish function as API Gateway's HTTP API invokes it
/// (payload format 2.0), against moto's EventBridge and Secrets Manager; what it puts on the bus
/// is read back through an EventBridge rule into an SQS queue, the path every publisher's events take.
@Suite struct PublishFunctionTests {
    private struct Bus {
        let publish: any LambdaHandler
        let queue: String

        static func start() async throws -> Bus {
            let client = try await TestMoto.client()
            let name = "herald-test-bus-\(UInt64.random(in: 1...UInt64.max))"
            _ = try await client.json(service: "events", target: "AWSEvents.CreateEventBus", version: "1.1", ["Name": .string(name)])
            let queue = try await TestMoto.queue()
            let arn =
                try await client.json(
                    service: "sqs",
                    target: "AmazonSQS.GetQueueAttributes",
                    ["QueueUrl": .string(queue), "AttributeNames": ["QueueArn"]]
                )["Attributes"]?["QueueArn"]?.stringValue ?? ""
            let pattern = #"{"detail-type":["Entity Updated","Send User Push Notification"]}"#
            _ = try await client.json(
                service: "events",
                target: "AWSEvents.PutRule",
                version: "1.1",
                ["Name": "all", "EventBusName": .string(name), "EventPattern": .string(pattern)]
            )
            _ = try await client.json(
                service: "events",
                target: "AWSEvents.PutTargets",
                version: "1.1",
                [
                    "Rule": "all", "EventBusName": .string(name), "Targets": [["Id": "queue", "Arn": .string(arn)]],
                ]
            )
            let environment = [
                "HERALD_PUBLISH_KEY_SECRET_ID": try await TestMoto.secret("key-one, key-two"), "HERALD_EVENT_BUS": .init(name),
                "HERALD_AWS_ENDPOINT": client.endpoint ?? "", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_REGION": "us-east-1",
            ]
            return Bus(publish: try await LambdaFunctions.handler(named: "publish", environment: environment), queue: queue)
        }

        /// One request as the HTTP API passes it; the status and the JSON answer.
        func post(_ path: String, _ body: String, key: String? = "key-two", scheme: String = "Bearer") async throws -> (status: Int, body: JSONValue)
        {
            var headers: [String: JSONValue] = ["content-type": "application/json"]
            if let key { headers["authorization"] = .string("\(scheme) \(key)") }
            let answer = try await publish.handle([
                "version": "2.0", "routeKey": "$default", "rawPath": .string(path), "headers": .object(headers), "body": .string(body),
                "isBase64Encoded": .bool(false), "requestContext": ["http": ["method": "POST", "path": .string(path)]],
            ])
            guard case .int(let status)? = answer["statusCode"] else { throw TestFailure("no statusCode in \(answer)") }
            return (status, JSON.parse(Array((answer["body"]?.stringValue ?? "").utf8)) ?? .null)
        }

        /// The events the bus delivered, as EventBridge puts them in a queue.
        func delivered() async throws -> [JSONValue] {
            try await TestMoto.drain(queue).compactMap { JSON.parse(Array($0.body.utf8)) }
        }
    }

    @Test func onlyAPublishKeyPublishes() async throws {
        let bus = try await Bus.start()
        let update = #"{"message":"m"}"#
        for (key, scheme) in [(nil, "Bearer"), ("key-three", "Bearer"), ("key-one", "Basic"), ("", "Bearer")] as [(String?, String)] {
            let answer = try await bus.post("/entities/order-7/updates", update, key: key, scheme: scheme)
            #expect(answer.status == 401 && answer.body["reason"] == "unauthorized", "\(String(describing: key)) \(scheme)")
        }
        #expect(try await bus.post("/entities/order-7/updates", update, key: "key-one", scheme: "bearer").status == 202)
        #expect(try await bus.delivered().count == 1)
    }

    @Test func eventsAreAnsweredAsTheServerAnswersThemWithoutSeq() async throws {
        let bus = try await Bus.start()
        let body = #"""
            {"Entries":[{"Source":"a","DetailType":"Entity Updated","Detail":"{\"entityId\":\"order-7\",\"message\":\"m1\",\"data\":{\"n\":1}}"},
             {"Source":"a","DetailType":"Entity Updated","Detail":"{\"entityId\":7}"},
             {"Source":"a","DetailType":"Dance","Detail":"{}"},
             {"Source":"a","DetailType":"Send User Push Notification","Detail":"{\"userId\":\"ada\",\"message\":\"hi\"}"}]}
            """#
        let answer = try await bus.post("/events", body)
        #expect(answer.status == 200 && answer.body["failedEntryCount"] == .int(2))
        guard case .array(let entries)? = answer.body["entries"], entries.count == 4 else { throw TestFailure("\(answer)") }
        #expect(
            entries[0].objectValue?.keys.sorted() == ["eventId"] && entries[3].objectValue?.keys.sorted() == ["eventId"],
            "no seq before numbering"
        )
        #expect(entries[1]["errorCode"] == "invalid_detail" && entries[2]["errorCode"] == "unknown_detail_type")
        let delivered = try await bus.delivered()
        let byID = Dictionary(uniqueKeysWithValues: delivered.compactMap { event in event["id"]?.stringValue.map { ($0, event) } })
        #expect(byID[entries[0]["eventId"]?.stringValue ?? ""]?["detail"] == ["entityId": "order-7", "message": "m1", "data": ["n": .int(1)]])
        #expect(byID[entries[3]["eventId"]?.stringValue ?? ""]?["detail-type"] == "Send User Push Notification")
        #expect(delivered.count == 2)
    }

    @Test func theShortcutsAndTheRefusals() async throws {
        let bus = try await Bus.start()
        let entity = try await bus.post("/entities/order%2F7/updates", #"{"message":"m","data":{"a":1}}"#)
        #expect(entity.status == 202 && entity.body["eventId"]?.stringValue != nil && entity.body["seq"] == nil)
        let user = try await bus.post("/users/ada/notifications", #"{"message":"hi","callback":"https://example.com"}"#)
        #expect(user.status == 202 && user.body["eventId"]?.stringValue != nil)
        let delivered = try await bus.delivered()
        #expect(Set(delivered.compactMap { $0["detail"]?["entityId"] ?? $0["detail"]?["userId"] }) == ["order/7", "ada"])
        let refusals: [(String, String, Int, String)] = [
            ("/events", "not json", 400, "invalid_body"), ("/events", #"{"what":1}"#, 400, "invalid_body"),
            ("/entities/order-7/updates", #"{"data":1}"#, 400, "invalid_body"), ("/entities/order-7/updates", "[]", 400, "invalid_body"),
            ("/users/ada/notifications", #"{"message":"m","callback":7}"#, 400, "invalid_detail"),
            ("/entities/%00/updates", #"{"message":"m"}"#, 400, "invalid_entity_id"), ("/nowhere", "{}", 404, "not_found"),
            ("/events", String(repeating: " ", count: 262_145), 413, "payload_too_large"),
            ("/entities/order-7/updates", #"{"message":"m","data":"\#(String(repeating: "x", count: 140_000))"}"#, 400, "push_too_large"),
        ]
        for (path, body, status, reason) in refusals {
            let answer = try await bus.post(path, body)
            #expect(answer.status == status && answer.body["reason"] == .string(reason), "\(path) \(body.prefix(40)): \(answer)")
        }
        let big = #"[{"detail-type":"Entity Updated","detail":{"entityId":"a","data":"\#(String(repeating: "x", count: 140_000))"}}]"#
        let entries = try await bus.post("/events", big)
        #expect(
            entries.status == 200
                && entries.body["entries"] == [
                    [
                        "errorCode": "push_too_large",
                        "errorMessage": .string(
                            PushSize.refusal(
                                of: .entityUpdated(.init(entityID: EntityID("a")!, data: .string(String(repeating: "x", count: 140_000)))),
                                id: EventID.next(),
                                time: Date().formatted(.iso8601)
                            ) ?? ""
                        ),
                    ]
                ]
        )
        #expect(try await bus.delivered().isEmpty)
    }
}
