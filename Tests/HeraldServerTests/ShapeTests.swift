import Foundation
import HeraldClient
import HeraldCore
import HeraldTokens
import Testing

/// One black-box suite for the three shapes (PROTOCOL.md): the standalone server, a cluster of two
/// nodes on PostgreSQL (clients on one node, the backend publishing to the other), and the AWS
/// shape run locally (deploy/aws/local). Clients connect, subscribe, receive, resume, get
/// notifications and refresh through the WebSocket; the backend publishes through the HTTP
/// publish API. The differences deploy/aws/README.md lists are the only ones allowed here: the
/// AWS shape's publish answers carry no `seq`.
@Suite struct ShapeTests {
    enum Shape: String, CaseIterable, CustomTestStringConvertible, Sendable {
        case standalone, cluster, aws
        var testDescription: String { rawValue }
    }

    /// One running deployment of a shape.
    struct Deployment {
        let shape: Shape
        let clientURL: String
        let publish: PublishClient
        let secret: String
        let stop: @Sendable () async throws -> Void

        static func start(_ shape: Shape) async throws -> Deployment {
            switch shape {
            case .standalone:
                let server = try await TestServer.start()
                return Deployment(
                    shape: shape,
                    clientURL: server.wsURL,
                    publish: PublishClient(baseURL: server.httpURL, publishKey: TestServer.publishKey),
                    secret: TestServer.secret,
                    stop: { try await server.stop() }
                )
            case .cluster:
                let database = try await TestPostgres.freshDatabase()
                let (clients, backend) = (try await ClusterNodes.node(database), try await ClusterNodes.node(database))
                return Deployment(
                    shape: shape,
                    clientURL: clients.wsURL,
                    publish: PublishClient(baseURL: backend.httpURL, publishKey: TestServer.publishKey),
                    secret: TestServer.secret,
                    stop: {
                        try await clients.stop()
                        try await backend.stop()
                    }
                )
            case .aws:
                let local = try await AWSLocalTests.Local.start()
                return Deployment(
                    shape: shape,
                    clientURL: local.wsURL,
                    publish: local.publish,
                    secret: AWSLocalTests.secret,
                    stop: { await local.stop() }
                )
            }
        }

        func connect(_ user: String) async throws -> HeraldSocket {
            try await HeraldSocket.connect(url: clientURL + "?access_token=" + (try await token(user)))
        }

        func token(_ user: String) async throws -> String {
            var claims = TokenIssuer.Claims()
            claims.userID = user
            return try await TokenIssuer(secret: secret).token(for: claims)
        }

        /// `POST /entities/{entity}/updates`; the event id (and `seq` where the shape answers it).
        func update(_ entity: String, _ message: String) async throws -> (eventID: String, seq: Int?) {
            let answer = try await publish.post("/entities/\(entity)/updates", body: Array(#"{"message":"\#(message)"}"#.utf8))
            #expect(answer.status == 202, "\(answer.body)")
            let body = JSON.parse(Array(answer.body.utf8))
            let seq: Int? = if case .int(let number)? = body?["seq"] { number } else { nil }
            #expect((seq == nil) == (shape == .aws), "only the AWS shape answers without seq")
            return (body?["eventId"]?.stringValue ?? "", seq)
        }

        /// The wait for a push: the AWS shape goes through EventBridge and two queues.
        var pushTimeout: Duration { shape == .aws ? .seconds(30) : .seconds(5) }
    }

    @Test(arguments: Shape.allCases) func subscribersGetEachUpdateInOrder(_ shape: Shape) async throws {
        let deployment = try await Deployment.start(shape)
        let (ada, bob) = (try await deployment.connect("ada"), try await deployment.connect("bob"))
        for socket in [ada, bob] {
            socket.send(#"{"action":"subscribe","entityIds":["order-7","order-8"],"requestId":"s"}"#)
            for entity in ["order-7", "order-8"] {
                let ack = try await socket.json(timeout: deployment.pushTimeout)
                #expect(
                    ack["type"] == "subscribed" && ack["entityId"] == .string(entity) && ack["recovered"] == .bool(true) && ack["requestId"] == "s"
                )
            }
        }
        var ids: [String] = []
        for message in ["m1", "m2", "m3"] { ids.append(try await deployment.update("order-7", message).eventID) }
        for socket in [ada, bob] {
            for (index, message) in ["m1", "m2", "m3"].enumerated() {
                let push = try await socket.json(timeout: deployment.pushTimeout)
                #expect(push["type"] == "Entity Updated" && push["entityId"] == "order-7" && push["message"] == .string(message))
                #expect(push["seq"] == .int(index + 1) && push["id"] == .string(ids[index]))
            }
        }
        try await deployment.stop()
    }

    @Test(arguments: Shape.allCases) func aResumeReplaysWhatWasMissed(_ shape: Shape) async throws {
        let deployment = try await Deployment.start(shape)
        let first = try await deployment.connect("ada")
        first.send(#"{"action":"subscribe","entityId":"order-9"}"#)
        let ack = try await first.json(timeout: deployment.pushTimeout)
        for message in ["m1", "m2", "m3"] { _ = try await deployment.update("order-9", message) }
        for seq in 1...3 { #expect(try await first.json(timeout: deployment.pushTimeout)["seq"] == .int(seq)) }
        let again = try await deployment.connect("ada")
        again.send(#"{"action":"subscribe","entityId":"order-9","since":1,"epoch":"\#(ack["epoch"]?.stringValue ?? "")"}"#)
        let resumed = try await again.json(timeout: deployment.pushTimeout)
        #expect(resumed["type"] == "subscribed" && resumed["recovered"] == .bool(true))
        #expect(try await again.json(timeout: deployment.pushTimeout)["message"] == "m2")
        #expect(try await again.json(timeout: deployment.pushTimeout)["message"] == "m3")
        try await deployment.stop()
    }

    @Test(arguments: Shape.allCases) func aNotificationReachesEveryConnectionOfItsUser(_ shape: Shape) async throws {
        let deployment = try await Deployment.start(shape)
        let (phone, laptop, other) = (try await deployment.connect("ada"), try await deployment.connect("ada"), try await deployment.connect("bob"))
        // Each connection is known once it answers (the AWS shape records it in $connect).
        for socket in [phone, laptop, other] {
            socket.send(#"{"action":"ping"}"#)
            #expect(try await socket.json(timeout: deployment.pushTimeout)["type"] == "pong")
        }
        let answer = try await deployment.publish.post(
            "/users/ada/notifications",
            body: Array(#"{"message":"done","callback":"https://example.com/1"}"#.utf8)
        )
        #expect(answer.status == 202)
        let id = JSON.parse(Array(answer.body.utf8))?["eventId"]
        for socket in [phone, laptop] {
            let push = try await socket.json(timeout: deployment.pushTimeout)
            #expect(
                push["type"] == "User Push Notification" && push["message"] == "done" && push["callback"] == "https://example.com/1"
                    && push["id"] == id
            )
        }
        other.send(#"{"action":"ping","requestId":1}"#)
        #expect(try await other.json(timeout: deployment.pushTimeout) == ["type": "pong", "requestId": .int(1)], "bob got nothing before")
        try await deployment.stop()
    }

    @Test(arguments: Shape.allCases) func messagesAndRefreshAreAnsweredAlike(_ shape: Shape) async throws {
        let deployment = try await Deployment.start(shape)
        let ada = try await deployment.connect("ada")
        ada.send("not json")
        #expect(try await ada.json(timeout: deployment.pushTimeout)["code"] == "invalid_json")
        ada.send(#"{"action":"dance","requestId":2}"#)
        let unknown = try await ada.json(timeout: deployment.pushTimeout)
        #expect(unknown["code"] == "unknown_action" && unknown["requestId"] == .int(2))
        ada.send(#"{"action":"refresh","token":"\#(try await deployment.token("ada"))","requestId":3}"#)
        let refreshed = try await ada.json(timeout: deployment.pushTimeout)
        #expect(refreshed["type"] == "refreshed" && refreshed["requestId"] == .int(3) && refreshed["expiresAt"] != nil)
        ada.send(#"{"action":"refresh","token":"\#(try await deployment.token("bob"))"}"#)
        #expect(try await ada.json(timeout: deployment.pushTimeout)["code"] == "forbidden")
        ada.send(#"{"action":"unsubscribe","entityId":"never"}"#)
        #expect(try await ada.json(timeout: deployment.pushTimeout) == ["type": "unsubscribed", "entityId": "never"])
        try await deployment.stop()
    }
}
