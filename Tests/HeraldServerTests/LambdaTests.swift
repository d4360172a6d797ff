import AWSSignature
import Foundation
import HeraldCore
import HeraldTokens
import Logging
import Testing

@testable import HeraldLambda

/// The AWS shape's functions (deploy/aws/README.md), each made as Lambda makes it (`LambdaFunctions`, from
/// the environment the SAM template sets) and fed the events API Gateway and SQS send, against
/// moto's DynamoDB and Secrets Manager and a local Management API.
@Suite struct LambdaTests {
    /// One deployment: its table and secret in moto, its Management API, its functions.
    private struct Deployment {
        static let secret = "lambda-secret-0123456789abcdef-0123456789abcdef"
        let table: HeraldTable
        let api: FakeManagementAPI
        let websocket: any LambdaHandler
        let authorizer: any LambdaHandler
        let fanOut: any LambdaHandler
        let testToken: any LambdaHandler
        let log: LogRecords
        let environment: [String: String]

        /// `secretString` is what the secret holds (`{"signature": …}` for the AWS quick start's form).
        static func start(_ extra: [String: String] = [:], secretString: String = secret) async throws -> Deployment {
            let database = try await TestMoto.freshTable()
            let api = try await FakeManagementAPI.start()
            let log = LogRecords()
            let environment = [
                "HERALD_TABLE": database.table, "HERALD_SECRET_ID": try await TestMoto.secret(secretString),
                "HERALD_MANAGEMENT_ENDPOINT": api.endpoint, "HERALD_AWS_ENDPOINT": database.client.endpoint ?? "",
                "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": FakeManagementAPI.secret, "AWS_REGION": "us-east-1",
            ].merging(extra) { $1 }
            func function(_ name: String) async throws -> any LambdaHandler {
                try await LambdaFunctions.handler(named: name, environment: environment, logger: log.logger)
            }
            return Deployment(
                table: HeraldTable(database: database),
                api: api,
                websocket: try await function("websocket"),
                authorizer: try await function("authorizer"),
                fanOut: try await function("fanout"),
                testToken: try await function("test-token"),
                log: log,
                environment: environment
            )
        }

        func token(_ user: String = "ada", ttl: Duration = .seconds(3600)) async throws -> String {
            var claims = TokenIssuer.Claims()
            claims.userID = user
            claims.ttl = ttl
            return try await TokenIssuer(secret: Self.secret).token(for: claims)
        }

        /// `$connect` as API Gateway sends it after the authorizer admitted `user`, opened at `connectedAt` (ms).
        func connect(_ id: String, user: String = "ada", connectedAt: Int = 1_795_000_000_000) async throws {
            api.open(id)
            var connect = event("CONNECT", id, authorizer: ["userId": .string(user)])
            if case .object(var fields) = connect, case .object(var context)? = fields["requestContext"] {
                context["connectedAt"] = .int(connectedAt)
                fields["requestContext"] = .object(context)
                connect = .object(fields)
            }
            let answer = try await websocket.handle(connect)
            #expect(answer["statusCode"] == .int(200))
        }

        /// A client message on the WebSocket; returns the frames it was answered with.
        @discardableResult
        func send(_ body: String, from id: String) async throws -> [JSONValue] {
            let before = api.frames(of: id).count
            _ = try await websocket.handle(event("MESSAGE", id, body: body))
            return Array(api.frames(of: id).dropFirst(before))
        }

        /// SQS's batch of EventBridge events (each `(id, detail-type, detail)`), from the FIFO
        /// entity queue (or the standard notification queue), with `time` left to run.
        @discardableResult
        func fanOut(
            _ events: [(id: String, type: String, detail: JSONValue)],
            fifo: Bool = true,
            time: Duration = .seconds(60)
        ) async throws -> JSONValue {
            try await fanOut(bodies: events.map { Self.body($0) }, fifo: fifo, time: time)
        }

        /// SQS's batch of message bodies.
        func fanOut(bodies: [String], fifo: Bool = true, time: Duration = .seconds(60)) async throws -> JSONValue {
            let source = fifo ? "arn:aws:sqs:us-east-1:123456789012:herald-entities.fifo" : "arn:aws:sqs:us-east-1:123456789012:herald-notifications"
            let records: [JSONValue] = bodies.enumerated().map { index, body in
                ["messageId": .string("message-\(index)"), "body": .string(body), "eventSourceARN": .string(source)]
            }
            return try await fanOut.handle(["Records": .array(records)], context: LambdaContext(requestID: "fan-out", deadline: .now + time))
        }

        /// An EventBridge event as SQS carries it.
        static func body(_ event: (id: String, type: String, detail: JSONValue)) -> String {
            let body: JSONValue = [
                "version": "0", "id": .string(event.id), "detail-type": .string(event.type), "source": "tests",
                "time": "2026-12-01T10:00:00Z", "detail": event.detail,
            ]
            return String(decoding: JSON.encode(body), as: UTF8.self)
        }

        func update(_ entity: String, _ message: String, id: String = UUID().uuidString) -> (id: String, type: String, detail: JSONValue) {
            (id, "Entity Updated", ["entityId": .string(entity), "message": .string(message)])
        }

        func event(_ type: String, _ id: String, body: String? = nil, authorizer: JSONValue? = nil) -> JSONValue {
            var context: [String: JSONValue] = [
                "eventType": .string(type), "connectionId": .string(id),
                "routeKey": type == "MESSAGE" ? "$default" : .string("$\(type.lowercased())"),
                "domainName": "example.execute-api.us-east-1.amazonaws.com", "stage": "prod",
                "identity": ["sourceIp": "203.0.113.7", "userAgent": "tests"], "connectedAt": .int(1_795_000_000_000),
            ]
            if let authorizer { context["authorizer"] = authorizer }
            var event: [String: JSONValue] = ["requestContext": .object(context), "isBase64Encoded": .bool(false)]
            if let body { event["body"] = .string(body) }
            return .object(event)
        }

        func stop() async throws { try await api.stop() }
    }

    private func seqs(_ frames: [JSONValue]) -> [Int] {
        frames.compactMap { if case .int(let seq)? = $0["seq"] { seq } else { nil } }
    }

    @Test func theAuthorizerAdmitsATokenFromEverySourceAndRefusesTheRest() async throws {
        let deployment = try await Deployment.start()
        let token = try await deployment.token("ada")
        let arn = "arn:aws:execute-api:us-east-1:123456789012:api/prod/$connect"
        for request: JSONValue in [
            ["queryStringParameters": ["access_token": .string(token)]], ["queryStringParameters": ["token": .string(token)]],
            ["headers": ["Sec-WebSocket-Protocol": .string("websocket, \(token)")]], ["headers": ["authorization": .string("Bearer \(token)")]],
        ] {
            var event = request.objectValue ?? [:]
            event["methodArn"] = .string(arn)
            let answer = try await deployment.authorizer.handle(.object(event))
            #expect(answer["principalId"] == "ada" && answer["context"]?["userId"] == "ada")
            #expect(answer["policyDocument"]?["Statement"] == [["Action": "execute-api:Invoke", "Effect": "Allow", "Resource": .string(arn)]])
        }
        let expired = try await deployment.token("ada", ttl: .seconds(-120))
        for request: JSONValue in [
            [:], ["queryStringParameters": ["token": "not-a-jwt"]], ["queryStringParameters": ["token": .string(expired)]],
            ["queryStringParameters": ["token": .string(try await TokenIssuer(secret: String(Deployment.secret.reversed())).token())]],
        ] {
            await #expect(throws: LambdaError.unauthorized) { _ = try await deployment.authorizer.handle(request) }
        }
        try await deployment.stop()
    }

    @Test func subscribersGetEachEventInOrderAndUsersTheirNotifications() async throws {
        let deployment = try await Deployment.start()
        try await deployment.connect("c1", user: "ada")
        let acks = try await deployment.send(#"{"action":"subscribe","entityIds":["order-7","order-8"],"requestId":1}"#, from: "c1")
        #expect(acks.map { $0["type"] } == ["subscribed", "subscribed"] && acks.map { $0["recovered"] } == [.bool(true), .bool(true)])
        #expect(acks[0]["requestId"] == .int(1) && acks[0]["epoch"]?.stringValue != nil)
        let result = try await deployment.fanOut([
            deployment.update("order-7", "m1"), deployment.update("order-7", "m2"), deployment.update("order-8", "other"),
        ])
        #expect(result == ["batchItemFailures": []])
        let pushes = deployment.api.frames(of: "c1").dropFirst(2)
        #expect(pushes.map { $0["message"] } == ["m1", "m2", "other"] && seqs(Array(pushes)) == [1, 2, 1])
        #expect(pushes.first?["type"] == "Entity Updated" && pushes.first?["time"] == "2026-12-01T10:00:00Z")
        try await deployment.fanOut([("n1", "Send User Push Notification", ["userId": "ada", "message": "done", "callback": "https://example.com"])])
        #expect(
            deployment.api.frames(of: "c1").last == [
                "type": "User Push Notification", "message": "done", "callback": "https://example.com", "id": "n1", "time": "2026-12-01T10:00:00Z",
            ]
        )
        try await deployment.stop()
    }

    @Test func aRedeliveredEventKeepsItsSeq() async throws {
        let deployment = try await Deployment.start()
        try await deployment.connect("c1")
        try await deployment.send(#"{"action":"subscribe","entityId":"order-7"}"#, from: "c1")
        let first = deployment.update("order-7", "once", id: "event-1")
        try await deployment.fanOut([first])
        try await deployment.fanOut([first])  // SQS delivers it again
        try await deployment.fanOut([deployment.update("order-7", "next")])
        #expect(seqs(deployment.api.frames(of: "c1")) == [1, 1, 2], "the repeat has the same seq, for the client to drop")
        try await deployment.stop()
    }

    @Test func aResumeReplaysTheKeptEventsOrSaysWhatIsLost() async throws {
        let deployment = try await Deployment.start(["HERALD_HISTORY_SIZE": "2"])
        try await deployment.fanOut((1...3).map { deployment.update("order-7", "m\($0)") })  // nobody listening
        try await deployment.connect("c1")
        let exact = try await deployment.send(#"{"action":"subscribe","entityId":"order-7","since":1}"#, from: "c1")
        #expect(exact.first?["recovered"] == .bool(true) && seqs(exact) == [2, 3])
        try await deployment.connect("c2")
        let behind = try await deployment.send(#"{"action":"subscribe","entityId":"order-7","since":0}"#, from: "c2")
        #expect(behind.first?["recovered"] == .bool(false) && seqs(behind) == [2, 3], "two kept: the tail is replayed")
        try await deployment.connect("c3")
        let epoch = try #require(exact.first?["epoch"]?.stringValue)
        let reset = try await deployment.send(#"{"action":"subscribe","entityId":"order-7","since":9,"epoch":"\#(epoch)"}"#, from: "c3")
        #expect(reset.first?["recovered"] == .bool(false) && seqs(reset).isEmpty)
        try await deployment.connect("c4")
        let otherEpoch = try await deployment.send(#"{"action":"subscribe","entityId":"order-7","since":2,"epoch":"other"}"#, from: "c4")
        #expect(otherEpoch.first?["recovered"] == .bool(false) && seqs(otherEpoch).isEmpty)
        // Subscribed already: acked again, nothing replayed (the connection has been receiving it live), as on the server.
        let again = try await deployment.send(#"{"action":"subscribe","entityId":"order-7","since":0}"#, from: "c4")
        #expect(again == [["type": "subscribed", "entityId": "order-7", "recovered": .bool(true), "epoch": .string(epoch)]])
        try await deployment.stop()
    }

    @Test func goneConnectionsAreForgottenAndDisconnectsForgetEverything() async throws {
        let deployment = try await Deployment.start()
        try await deployment.connect("c1")
        try await deployment.connect("c2")
        for id in ["c1", "c2"] { try await deployment.send(#"{"action":"subscribe","entityId":"order-7"}"#, from: id) }
        _ = try await deployment.websocket.handle(deployment.event("DISCONNECT", "c1"))
        #expect(try await deployment.table.connection("c1") == nil)
        #expect(try await deployment.table.subscribers(of: EntityID("order-7")!) == ["c2"])
        // c2 has left API Gateway without a $disconnect: the fan-out finds it gone and forgets it.
        deployment.api.close("c2")
        #expect(try await deployment.fanOut([deployment.update("order-7", "m1")]) == ["batchItemFailures": []])
        #expect(try await deployment.table.subscribers(of: EntityID("order-7")!).isEmpty)
        #expect(try await deployment.table.connections(of: UserID("ada")!).isEmpty)
        #expect(deployment.api.unsigned == 0)
        try await deployment.stop()
    }

    private func failures(_ result: JSONValue) -> [String] {
        guard case .array(let items)? = result["batchItemFailures"] else { return ["not a batch answer: \(result)"] }
        return items.compactMap { $0["itemIdentifier"]?.stringValue }
    }

    /// Throttling and 5xx are retried with back-off for that recipient alone; one still failing
    /// after its retries is logged and skipped, not a reason to send the event to everyone again.
    @Test func aRecipientsPassingFailureIsRetriedForItAlone() async throws {
        let deployment = try await Deployment.start()
        for id in ["c1", "c2", "c3"] {
            try await deployment.connect(id)
            try await deployment.send(#"{"action":"subscribe","entityId":"order-7"}"#, from: id)
        }
        deployment.api.script("c1", [429, 503])
        deployment.api.fail("c3")
        let result = try await deployment.fanOut([deployment.update("order-7", "m1", id: "event-1")])
        #expect(failures(result) == [])
        #expect(deployment.api.frames(of: "c1").dropFirst().map { $0["message"] } == ["m1"] && deployment.api.attempts(of: "c1") == 4)
        #expect(deployment.api.frames(of: "c2").dropFirst().map { $0["message"] } == ["m1"] && deployment.api.attempts(of: "c2") == 2)
        #expect(deployment.api.attempts(of: "c3") == 1 + RetryPolicy().attempts, "the subscribe's ack, then every try")
        let failed = deployment.log.lines("Push failed after retries")
        #expect(failed.count == 1 && failed.first?.metadata["connection.id"] == "c3" && failed.first?.metadata["event.id"] == "event-1")
        #expect(failed.first?.metadata["http.status"] == "500")
        #expect(try await deployment.table.subscribers(of: EntityID("order-7")!).sorted() == ["c1", "c2", "c3"])
        try await deployment.stop()
    }

    /// `400`, `403` and `413` cannot get better: one try, logged, skipped, the connection kept.
    @Test func aPermanentRefusalIsLoggedAndSkipped() async throws {
        let deployment = try await Deployment.start()
        for (id, status) in [("c1", 400), ("c2", 403), ("c3", 413)] {
            try await deployment.connect(id)
            try await deployment.send(#"{"action":"subscribe","entityId":"order-7"}"#, from: id)
            deployment.api.script(id, [status])
        }
        #expect(failures(try await deployment.fanOut([deployment.update("order-7", "m1")])) == [])
        #expect(["c1", "c2", "c3"].map { deployment.api.attempts(of: $0) } == [2, 2, 2])
        #expect(Set(deployment.log.lines("Push refused").compactMap { $0.metadata["http.status"] }) == ["400", "403", "413"])
        #expect(try await deployment.table.subscribers(of: EntityID("order-7")!).count == 3)
        try await deployment.stop()
    }

    /// A record that fails on the FIFO queue stops the batch: it and every later one are
    /// reported (later records of its entity must not overtake it). On the standard queue only
    /// the failed one is.
    @Test func aFailedRecordOnTheFIFOQueueStopsTheBatch() async throws {
        // Refusing an event fails when the refused-event queue does not exist.
        let deployment = try await Deployment.start(["HERALD_REFUSED_QUEUE_URL": "http://127.0.0.1:1/000000000000/none"])
        try await deployment.connect("c1", user: "ada")
        try await deployment.send(#"{"action":"subscribe","entityId":"order-7"}"#, from: "c1")
        let bad = Deployment.body(("bad", "Entity Updated", ["entityId": .int(7), "message": "numeric id"]))
        let result = try await deployment.fanOut(bodies: [
            Deployment.body(deployment.update("order-7", "m1")), bad, Deployment.body(deployment.update("order-7", "m2")),
        ])
        #expect(failures(result) == ["message-1", "message-2"])
        #expect(deployment.api.frames(of: "c1").dropFirst().map { $0["message"] } == ["m1"])
        let notification = Deployment.body(("n1", "Send User Push Notification", ["userId": "ada", "message": "hello"]))
        let standard = try await deployment.fanOut(bodies: [bad, notification], fifo: false)
        #expect(failures(standard) == ["message-0"])
        #expect(deployment.api.frames(of: "c1").last?["message"] == "hello")
        try await deployment.stop()
    }

    /// No record is started without the time to finish it: they are left for SQS to deliver again.
    @Test func recordsLeftWhenTheDeadlineIsNearAreReported() async throws {
        let deployment = try await Deployment.start()
        try await deployment.connect("c1")
        try await deployment.send(#"{"action":"subscribe","entityId":"order-7"}"#, from: "c1")
        let result = try await deployment.fanOut([deployment.update("order-7", "m1"), deployment.update("order-7", "m2")], time: .seconds(2))
        #expect(failures(result) == ["message-0", "message-1"])
        #expect(deployment.api.frames(of: "c1").count == 1, "the ack only")
        try await deployment.stop()
    }

    /// A `410` for a connection opened moments ago is a notification racing its `$connect`
    /// (API Gateway has not finished opening it): the connection is kept. An old one is forgotten.
    @Test func aGoneRightAfterConnectKeepsTheConnection() async throws {
        let deployment = try await Deployment.start()
        try await deployment.connect("new", user: "ada", connectedAt: Int(Date().timeIntervalSince1970 * 1000))
        try await deployment.connect("old", user: "ada")
        deployment.api.close("new")
        deployment.api.close("old")
        try await deployment.fanOut([("n1", "Send User Push Notification", ["userId": "ada", "message": "hi"])], fifo: false)
        #expect(try await deployment.table.connections(of: UserID("ada")!) == ["new"])
        #expect(try await deployment.table.connection("new") != nil && deployment.log.lines("Gone right after its $connect: kept").count == 1)
        try await deployment.stop()
    }

    /// What the server refuses at publish (a numeric `entityId`, a `message` that is not a
    /// string) and pushes API Gateway cannot send (over 128 KB) are refused loudly: logged with
    /// their ids and put in the refused-event queue with the reason, not dropped in silence.
    @Test func undeliverableEventsAreRefusedLoudly() async throws {
        let refused = try await TestMoto.queue()
        let deployment = try await Deployment.start(["HERALD_REFUSED_QUEUE_URL": refused])
        try await deployment.connect("c1")
        try await deployment.send(#"{"action":"subscribe","entityId":"order-7"}"#, from: "c1")
        let bodies = [
            Deployment.body(("e1", "Entity Updated", ["entityId": .int(7)])),
            Deployment.body(("e2", "Entity Updated", ["entityId": "order-7", "message": ["nested": .bool(true)]])),
            Deployment.body(("e3", "Entity Updated", ["entityId": "order-7", "data": .string(String(repeating: "x", count: 131_072))])),
            Deployment.body(("e4", "Send User Push Notification", ["userId": "ada"])),
            "not json",
        ]
        #expect(failures(try await deployment.fanOut(bodies: bodies)) == [])
        #expect(deployment.api.frames(of: "c1").count == 1, "the ack only")
        let queued = try await TestMoto.drain(refused)
        #expect(queued.map(\.body).sorted() == bodies.sorted())
        #expect(Set(queued.compactMap { $0.attributes["code"] }) == ["invalid_detail", "push_too_large", "invalid_event"])
        let logged = deployment.log.lines("Event refused")
        #expect(logged.compactMap { $0.metadata["event.id"] }.sorted() == ["e1", "e2", "e3", "e4", "none"])
        #expect(logged.allSatisfy { $0.level == .error && $0.metadata["sqs.message.id"]?.hasPrefix("message-") == true })
        #expect(try await deployment.table.latestSeq(of: EntityID("order-7")!) == 0, "nothing numbered")
        try await deployment.stop()
    }

    /// The epoch never changes: each execution environment reads it once (a subscribe does not
    /// write and re-read it).
    @Test func theEpochIsReadOncePerEnvironment() async throws {
        let deployment = try await Deployment.start()
        try await deployment.connect("c1")
        let first = try await deployment.send(#"{"action":"subscribe","entityId":"a"}"#, from: "c1")
        try await deployment.table.database.write(deletes: [("META", "EPOCH")])
        let second = try await deployment.send(#"{"action":"subscribe","entityId":"b"}"#, from: "c1")
        #expect(first.first?["epoch"] != nil && second.first?["epoch"] == first.first?["epoch"])
        #expect(try await deployment.table.database.get(pk: "META", sk: "EPOCH") == nil, "not written again")
        try await deployment.stop()
    }

    /// The router puts each entity's updates in a message group of its own on the FIFO queue
    /// (its id, or a hash when SQS would not take the id as a group), deduplicated by the
    /// EventBridge event's id, and refuses what cannot be delivered.
    @Test func theRouterGivesEachEntityItsOwnMessageGroup() async throws {
        let (entities, refused) = (try await TestMoto.queue(fifo: true), try await TestMoto.queue())
        let deployment = try await Deployment.start()
        let router = try await LambdaFunctions.handler(
            named: "router",
            environment: deployment.environment.merging(["HERALD_ENTITY_QUEUE_URL": entities, "HERALD_REFUSED_QUEUE_URL": refused]) { $1 },
            logger: deployment.log.logger
        )
        let long = String(repeating: "é", count: 100)
        let bodies = [
            Deployment.body(deployment.update("order-7", "a1", id: "e1")), Deployment.body(deployment.update("order-8", "b1", id: "e2")),
            Deployment.body(deployment.update("order-7", "a2", id: "e3")), Deployment.body(deployment.update(long, "long", id: "e4")),
            Deployment.body(deployment.update("order-7", "a1 again", id: "e1")),
            Deployment.body(("e5", "Entity Updated", ["entityId": "order-7", "message": .int(5)])),
        ]
        let records: [JSONValue] = bodies.enumerated().map { ["messageId": .string("m\($0)"), "body": .string($1)] }
        let answer = try await router.handle(["Records": .array(records)])
        #expect(answer == ["batchItemFailures": []])
        let routed = try await TestMoto.drain(entities)
        let byGroup = Dictionary(grouping: routed, by: { $0.group ?? "" }).mapValues {
            $0.compactMap { JSON.parse(Array($0.body.utf8))?["detail"]?["message"] }
        }
        #expect(byGroup["order-7"] == ["a1", "a2"], "the repeat of e1 is deduplicated")
        #expect(byGroup["order-8"] == ["b1"])
        #expect(byGroup["#" + AWSSignatureV4.sha256Hex(Array(long.utf8))] == ["long"])
        #expect(try await TestMoto.drain(refused).map(\.body) == [bodies[5]])
        try await deployment.stop()
    }

    /// The AWS quick start keeps its secret as `{"signature": "…"}`: tokens its issuers signed
    /// with that signature are admitted, and CreateTestJwt signs with it.
    @Test func aSecretInTheQuickStartsFormIsItsSignature() async throws {
        let deployment = try await Deployment.start(secretString: #"{"signature": "\#(Deployment.secret)"}"#)
        let answer = try await deployment.authorizer.handle([
            "queryStringParameters": ["token": .string(try await deployment.token("ada"))], "methodArn": "arn",
        ])
        #expect(answer["principalId"] == "ada")
        let made = try #require(try await deployment.testToken.handle([:])["authToken"]?.stringValue)
        var tokens = TokenConfiguration()
        tokens.secret = Deployment.secret
        #expect(try await TokenVerifier(configuration: tokens).verify(made).get().userID == UserID("myuserid"))
        try await deployment.stop()
    }

    @Test func messagesAreAnsweredAsTheServerAnswersThem() async throws {
        let deployment = try await Deployment.start(["HERALD_MAX_SUBSCRIPTIONS": "2"])
        try await deployment.connect("c1", user: "ada")
        let codes = { (frames: [JSONValue]) in frames.map { $0["code"] ?? $0["type"] ?? .null } }
        #expect(codes(try await deployment.send("not json", from: "c1")) == ["invalid_json"])
        #expect(codes(try await deployment.send(#"{"action":"dance"}"#, from: "c1")) == ["unknown_action"])
        #expect(codes(try await deployment.send(#"{"action":"subscribe","entityId":"z"}"#, from: "c1")) == ["subscribed"])
        #expect(
            codes(try await deployment.send(#"{"action":"subscribe","entityIds":["a","b"]}"#, from: "c1")) == ["subscribed", "subscription_limit"]
        )
        // A list longer than the limit: one error, nothing subscribed (not one Management API call per id).
        #expect(codes(try await deployment.send(#"{"action":"subscribe","entityIds":["x","y","w"]}"#, from: "c1")) == ["invalid_message"])
        #expect(try await deployment.send(#"{"action":"ping","requestId":"p"}"#, from: "c1") == [["type": "pong", "requestId": "p"]])
        #expect(codes(try await deployment.send(#"{"action":"unsubscribe","entityId":"a"}"#, from: "c1")) == ["unsubscribed"])
        let refreshed = try await deployment.send(#"{"action":"refresh","token":"\#(try await deployment.token("ada"))"}"#, from: "c1")
        #expect(refreshed.first?["type"] == "refreshed" && refreshed.first?["expiresAt"] != nil)
        #expect(
            codes(try await deployment.send(#"{"action":"refresh","token":"\#(try await deployment.token("bob"))"}"#, from: "c1")) == ["forbidden"]
        )
        #expect(codes(try await deployment.send(#"{"action":"refresh","token":"x.y.z"}"#, from: "c1")) == ["token_invalid"])
        var binary = deployment.event("MESSAGE", "c1", body: "AAEC")
        if case .object(var fields) = binary {
            fields["isBase64Encoded"] = .bool(true)
            binary = .object(fields)
        }
        _ = try await deployment.websocket.handle(binary)
        #expect(deployment.api.frames(of: "c1").last?["code"] == "unsupported_frame")
        try await deployment.stop()
    }

    /// DynamoDB refuses a `BatchWriteItem` that names one key twice: a repeated id is written once
    /// and acknowledged at each mention, as the server acknowledges it.
    @Test func aRepeatedIdIsAcknowledgedAtEachMention() async throws {
        let deployment = try await Deployment.start()
        try await deployment.connect("c1")
        let acks = try await deployment.send(#"{"action":"subscribe","entityIds":["a","a","b"],"requestId":1}"#, from: "c1")
        #expect(acks.map { $0["type"] } == ["subscribed", "subscribed", "subscribed"] && acks.map { $0["entityId"] } == ["a", "a", "b"])
        #expect(try await deployment.table.subscribers(of: EntityID("a")!) == ["c1"])
        try await deployment.fanOut([deployment.update("a", "once")])
        #expect(deployment.api.frames(of: "c1").dropFirst(3).map { $0["message"] } == ["once"])
        let gone = try await deployment.send(#"{"action":"unsubscribe","entityIds":["a","a"]}"#, from: "c1")
        #expect(gone.map { $0["type"] } == ["unsubscribed", "unsubscribed"])
        #expect(try await deployment.table.subscribers(of: EntityID("a")!).isEmpty)
        #expect(try await deployment.table.connection("c1")?.subscriptions == [EntityID("b")!])
        try await deployment.stop()
    }

    @Test func theConnectRouteEchoesTheSubprotocolAndNeedsTheAuthorizersUser() async throws {
        let deployment = try await Deployment.start()
        var event = deployment.event("CONNECT", "c1", authorizer: ["userId": "ada"])
        if case .object(var fields) = event {
            fields["headers"] = ["Sec-WebSocket-Protocol": "WebSocket, eyJ…"]
            event = .object(fields)
        }
        #expect(try await deployment.websocket.handle(event) == ["statusCode": .int(200), "headers": ["Sec-WebSocket-Protocol": "WebSocket"]])
        #expect(try await deployment.table.connection("c1")?.userID == UserID("ada"))
        #expect(try await deployment.websocket.handle(deployment.event("CONNECT", "c2")) == ["statusCode": .int(401)])
        try await deployment.stop()
    }

    @Test func theTestTokenFunctionSignsForTheUserAsked() async throws {
        let deployment = try await Deployment.start()
        let answer = try await deployment.testToken.handle(["userId": "carol"])
        let token = try #require(answer["authToken"]?.stringValue)
        var tokens = TokenConfiguration()
        tokens.secret = Deployment.secret
        #expect(try await TokenVerifier(configuration: tokens).verify(token).get().userID == UserID("carol"))
        try await deployment.stop()
    }

    /// CreateTestJwt takes the AWS quick start's inputs, and the authorizer passes them on to
    /// the routes in its context.
    @Test func theQuickStartsNamesGoFromCreateTestJwtThroughTheAuthorizer() async throws {
        let deployment = try await Deployment.start()
        let made = try await deployment.testToken.handle(["userId": "ada", "firstName": "Ada", "lastName": "Lovelace", "sub": "ada-sub"])
        let token = try #require(made["authToken"]?.stringValue)
        let allowed = try await deployment.authorizer.handle(["queryStringParameters": ["token": .string(token)], "methodArn": "arn"])
        #expect(allowed["context"]?["userId"] == "ada" && allowed["context"]?["firstName"] == "Ada")
        #expect(allowed["context"]?["lastName"] == "Lovelace" && allowed["context"]?["sub"] == "ada-sub")
        await #expect(throws: LambdaError("firstName must be a string")) { _ = try await deployment.testToken.handle(["firstName": .int(1)]) }
        try await deployment.stop()
    }

    /// What AWS cannot do (deploy/aws/README.md): there is no per-connection timer, so a
    /// connection outlives its token's `exp` — the server closes it with `4001`
    /// (ConnectionHandlerTests) — and is answered until API Gateway's own 2-hour limit.
    @Test func aConnectionOutlivesItsTokenOnAWS() async throws {
        let deployment = try await Deployment.start()
        deployment.api.open("c1")
        let expired = Int(Date().timeIntervalSince1970) - 3_600
        let connect = deployment.event("CONNECT", "c1", authorizer: ["userId": "ada", "exp": .int(expired)])
        #expect(try await deployment.websocket.handle(connect) == ["statusCode": .int(200)])
        #expect(try await deployment.send(#"{"action":"ping","requestId":1}"#, from: "c1") == [["type": "pong", "requestId": .int(1)]])
        #expect(deployment.api.isOpen("c1"), "no DeleteConnection: nothing closes it at exp")
        try await deployment.stop()
    }

    /// `HERALD_SUBSCRIPTION_AUTH` `claims`: the authorizer passes the claim, `$connect` keeps it
    /// in the table, a `refresh` replaces it; a connection recorded without it allows nothing.
    @Test func theClaimIsKeptInTheTableAndARefreshReplacesIt() async throws {
        let deployment = try await Deployment.start(["HERALD_SUBSCRIPTION_AUTH": "claims"])
        func token(_ entities: [String]) async throws -> String {
            var claims = TokenIssuer.Claims()
            claims.userID = "ada"
            claims.entities = entities
            return try await TokenIssuer(secret: Deployment.secret).token(for: claims)
        }
        let admitted = try await deployment.authorizer.handle(["queryStringParameters": ["token": .string(try await token(["order-*"]))]])
        #expect(admitted["context"]?["entities"] == #"["order-*"]"#)
        deployment.api.open("c1")
        _ = try await deployment.websocket.handle(deployment.event("CONNECT", "c1", authorizer: admitted["context"]))
        #expect(try await deployment.table.connection("c1")?.allowedEntities == EntityPatterns(["order-*"]))
        let refreshed = try await deployment.send(#"{"action":"refresh","token":"\#(try await token(["a"]))"}"#, from: "c1")
        #expect(refreshed.first?["type"] == "refreshed")
        #expect(try await deployment.table.connection("c1")?.allowedEntities == EntityPatterns(["a"]))
        // Recorded without the claim (an authorizer of before): fail closed.
        try await deployment.connect("c2")
        #expect(
            try await deployment.send(#"{"action":"subscribe","entityId":"a"}"#, from: "c2") == [
                ["type": "error", "code": "forbidden", "message": "this token does not allow subscribing to a"]
            ]
        )
        try await deployment.stop()
    }

    @Test func theAuthorisationHookIsTheServersAlone() {
        #expect(throws: LambdaError("HERALD_SUBSCRIPTION_AUTH must be none or claims (the authorisation hook is the standalone server's), not hook"))
        {
            _ = try LambdaSettings(environment: ["HERALD_TABLE": "t", "HERALD_SECRET_ID": "s", "HERALD_SUBSCRIPTION_AUTH": "hook"])
        }
    }

    @Test func aFunctionWithoutItsSettingsSaysWhichIsMissing() async throws {
        await #expect(throws: LambdaError("HERALD_TABLE is not set")) {
            _ = try await LambdaFunctions.handler(named: "websocket", environment: [:])
        }
        await #expect(throws: LambdaError("unknown handler nope; expected one of websocket, authorizer, fanout, router, publish, test-token")) {
            _ = try await LambdaFunctions.handler(named: "nope", environment: [:])
        }
    }
}
