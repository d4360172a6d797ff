import Foundation
import HeraldCore
@testable import HeraldLambda
import HeraldTokens
import Testing

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

        static func start(_ extra: [String: String] = [:]) async throws -> Deployment {
            let database = try await TestMoto.freshTable()
            let api = try await FakeManagementAPI.start()
            let environment = [
                "HERALD_TABLE": database.table, "HERALD_SECRET_ID": try await TestMoto.secret(secret),
                "HERALD_MANAGEMENT_ENDPOINT": api.endpoint, "HERALD_AWS_ENDPOINT": database.client.endpoint ?? "",
                "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": FakeManagementAPI.secret, "AWS_REGION": "us-east-1",
            ].merging(extra) { $1 }
            func function(_ name: String) async throws -> any LambdaHandler {
                try await LambdaFunctions.handler(named: name, environment: environment)
            }
            return Deployment(
                table: HeraldTable(database: database), api: api, websocket: try await function("websocket"),
                authorizer: try await function("authorizer"), fanOut: try await function("fanout"), testToken: try await function("test-token")
            )
        }

        func token(_ user: String = "ada", ttl: Duration = .seconds(3600)) async throws -> String {
            var claims = TokenIssuer.Claims()
            claims.userID = user
            claims.ttl = ttl
            return try await TokenIssuer(secret: Self.secret).token(for: claims)
        }

        /// `$connect` as API Gateway sends it after the authorizer admitted `user`.
        func connect(_ id: String, user: String = "ada") async throws {
            api.open(id)
            let answer = try await websocket.handle(event("CONNECT", id, authorizer: ["userId": .string(user)]))
            #expect(answer["statusCode"] == .int(200))
        }

        /// A client message on the WebSocket; returns the frames it was answered with.
        @discardableResult
        func send(_ body: String, from id: String) async throws -> [JSONValue] {
            let before = api.frames(of: id).count
            _ = try await websocket.handle(event("MESSAGE", id, body: body))
            return Array(api.frames(of: id).dropFirst(before))
        }

        /// SQS's batch of EventBridge events (each `(id, detail-type, detail)`).
        @discardableResult
        func fanOut(_ events: [(id: String, type: String, detail: JSONValue)]) async throws -> JSONValue {
            let records: [JSONValue] = events.enumerated().map { index, event in
                let body: JSONValue = [
                    "version": "0", "id": .string(event.id), "detail-type": .string(event.type), "source": "tests",
                    "time": "2026-12-01T10:00:00Z", "detail": event.detail,
                ]
                return ["messageId": .string("message-\(index)"), "body": .string(String(decoding: JSON.encode(body), as: UTF8.self))]
            }
            return try await fanOut.handle(["Records": .array(records)])
        }

        func update(_ entity: String, _ message: String, id: String = UUID().uuidString) -> (id: String, type: String, detail: JSONValue) {
            (id, "Entity Updated", ["entityId": .string(entity), "message": .string(message)])
        }

        func event(_ type: String, _ id: String, body: String? = nil, authorizer: JSONValue? = nil) -> JSONValue {
            var context: [String: JSONValue] = [
                "eventType": .string(type), "connectionId": .string(id), "routeKey": type == "MESSAGE" ? "$default" : .string("$\(type.lowercased())"),
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
        let result = try await deployment.fanOut([deployment.update("order-7", "m1"), deployment.update("order-7", "m2"), deployment.update("order-8", "other")])
        #expect(result == ["batchItemFailures": []])
        let pushes = deployment.api.frames(of: "c1").dropFirst(2)
        #expect(pushes.map { $0["message"] } == ["m1", "m2", "other"] && seqs(Array(pushes)) == [1, 2, 1])
        #expect(pushes.first?["type"] == "Entity Updated" && pushes.first?["time"] == "2026-12-01T10:00:00Z")
        try await deployment.fanOut([("n1", "Send User Push Notification", ["userId": "ada", "message": "done", "callback": "https://example.com"])])
        #expect(deployment.api.frames(of: "c1").last == [
            "type": "User Push Notification", "message": "done", "callback": "https://example.com", "id": "n1", "time": "2026-12-01T10:00:00Z",
        ])
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

    @Test func aConnectionThatFailsIsRetriedBySQS() async throws {
        let deployment = try await Deployment.start()
        try await deployment.connect("c1")
        try await deployment.send(#"{"action":"subscribe","entityId":"order-7"}"#, from: "c1")
        deployment.api.fail("c1")
        let result = try await deployment.fanOut([deployment.update("order-8", "fine"), deployment.update("order-7", "fails")])
        #expect(result == ["batchItemFailures": [["itemIdentifier": "message-1"]]])
        try await deployment.stop()
    }

    @Test func messagesAreAnsweredAsTheServerAnswersThem() async throws {
        let deployment = try await Deployment.start(["HERALD_MAX_SUBSCRIPTIONS": "2"])
        try await deployment.connect("c1", user: "ada")
        let codes = { (frames: [JSONValue]) in frames.map { $0["code"] ?? $0["type"] ?? .null } }
        #expect(codes(try await deployment.send("not json", from: "c1")) == ["invalid_json"])
        #expect(codes(try await deployment.send(#"{"action":"dance"}"#, from: "c1")) == ["unknown_action"])
        #expect(codes(try await deployment.send(#"{"action":"subscribe","entityId":"z"}"#, from: "c1")) == ["subscribed"])
        #expect(codes(try await deployment.send(#"{"action":"subscribe","entityIds":["a","b"]}"#, from: "c1")) == ["subscribed", "subscription_limit"])
        // A list longer than the limit: one error, nothing subscribed (not one Management API call per id).
        #expect(codes(try await deployment.send(#"{"action":"subscribe","entityIds":["x","y","w"]}"#, from: "c1")) == ["invalid_message"])
        #expect(try await deployment.send(#"{"action":"ping","requestId":"p"}"#, from: "c1") == [["type": "pong", "requestId": "p"]])
        #expect(codes(try await deployment.send(#"{"action":"unsubscribe","entityId":"a"}"#, from: "c1")) == ["unsubscribed"])
        let refreshed = try await deployment.send(#"{"action":"refresh","token":"\#(try await deployment.token("ada"))"}"#, from: "c1")
        #expect(refreshed.first?["type"] == "refreshed" && refreshed.first?["expiresAt"] != nil)
        #expect(codes(try await deployment.send(#"{"action":"refresh","token":"\#(try await deployment.token("bob"))"}"#, from: "c1")) == ["forbidden"])
        #expect(codes(try await deployment.send(#"{"action":"refresh","token":"x.y.z"}"#, from: "c1")) == ["token_invalid"])
        var binary = deployment.event("MESSAGE", "c1", body: "AAEC")
        if case .object(var fields) = binary { fields["isBase64Encoded"] = .bool(true); binary = .object(fields) }
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
        if case .object(var fields) = event { fields["headers"] = ["Sec-WebSocket-Protocol": "WebSocket, eyJ…"]; event = .object(fields) }
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

    @Test func aFunctionWithoutItsSettingsSaysWhichIsMissing() async throws {
        await #expect(throws: LambdaError("HERALD_TABLE is not set")) {
            _ = try await LambdaFunctions.handler(named: "websocket", environment: [:])
        }
        await #expect(throws: LambdaError("unknown handler nope; expected one of websocket, authorizer, fanout, test-token")) {
            _ = try await LambdaFunctions.handler(named: "nope", environment: [:])
        }
    }
}
