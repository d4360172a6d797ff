import HeraldClient
import HeraldCore
import HeraldServer
import Testing

@Suite struct FanOutTests {
    @Test func hundredClientsOverTenEntitiesGetExactlyTheirEventsInOrder() async throws {
        let server = try await TestServer.start()
        let entities = (0..<10).map { "order-\($0)" }
        var clients: [(socket: HeraldSocket, entity: String)] = []
        for index in 0..<100 {
            let entity = entities[index % 10]
            clients.append((try await server.subscriber(user: "user-\(index)", to: [entity]), entity))
        }
        let bystander = try await server.connect(user: "bystander")
        let rounds = 5
        for round in 1...rounds {
            for entity in entities {
                let receipt = try await server.publishEntity(entity, message: "\(entity) #\(round)")
                #expect(receipt["seq"] == .int(round))
            }
        }
        for (socket, entity) in clients {
            for round in 1...rounds {
                let push = try await socket.json()
                #expect(push["type"] == "Entity Updated")
                #expect(push["entityId"] == .string(entity))
                #expect(push["seq"] == .int(round))
                #expect(push["message"] == .string("\(entity) #\(round)"))
            }
            try await socket.expectNothingPending()  // no duplicates, nothing of other entities
        }
        try await bystander.expectNothingPending()
        #expect(server.application.hub.subscriptions == 100)
        try await server.stop()
    }

    @Test func userNotificationsReachEveryConnectionOfThatUserOnly() async throws {
        let server = try await TestServer.start()
        let alice = [try await server.connect(user: "alice"), try await server.connect(user: "alice"), try await server.connect(user: "alice")]
        let bob = try await server.connect(user: "bob")
        let answer = try await server.publish(
            "/users/alice/notifications",
            #"{"message":"A job you submitted has completed","callback":"https://example.com/jobs/1"}"#
        )
        #expect(answer.status == 202)
        let eventID = try #require(JSON.parse(answer.body)?["eventId"])
        #expect(JSON.parse(answer.body)?["seq"] == nil)
        for socket in alice {
            let push = try await socket.json()
            #expect(push.objectValue?.keys.sorted() == ["callback", "id", "message", "time", "type"])
            #expect(push["type"] == "User Push Notification")
            #expect(push["callback"] == "https://example.com/jobs/1")
            #expect(push["id"] == eventID)
        }
        try await bob.expectNothingPending()
        try await server.stop()
    }

    @Test func entityPushCarriesExactlyTheSpecFields() async throws {
        let server = try await TestServer.start()
        let socket = try await server.subscriber(to: ["order-7"])
        let answer = try await server.publish("/entities/order-7/updates", #"{"message":"Status changed","data":{"status":"In Progress"}}"#)
        let push = try await socket.json()
        #expect(push.objectValue?.keys.sorted() == ["data", "entityId", "id", "message", "seq", "time", "type"])
        #expect(push["data"] == .object(["status": "In Progress"]))
        #expect(push["id"] == JSON.parse(answer.body)?["eventId"])
        let time = try #require(push["time"]?.stringValue)
        #expect(time.hasSuffix("Z") && time.count == 20)
        try await server.stop()
    }

    @Test func unsubscribedClientsStopReceiving() async throws {
        let server = try await TestServer.start()
        let socket = try await server.subscriber(to: ["a"])
        socket.send(#"{"action":"unsubscribe","entityId":"a"}"#)
        #expect(try await socket.json()["type"] == "unsubscribed")
        _ = try await server.publishEntity("a", message: "gone")
        try await socket.expectNothingPending()
        try await server.stop()
    }
}
