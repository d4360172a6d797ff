import HeraldCore
import Testing

@Suite struct EventEnvelopeTests {
    private func decode(_ text: String) -> Result<[Result<Event, EventEnvelope.EntryError>], EventEnvelope.ShapeError> {
        EventEnvelope.decode(Array(text.utf8))
    }

    private let orderUpdate = Event.entityUpdated(EntityUpdate(entityID: EntityID("order-7")!, message: "hi"))

    @Test func eventBridgeEnvelope() throws {
        let entries = try decode(#"{"detail-type":"Entity Updated","detail":{"entityId":"order-7","message":"hi"}}"#).get()
        #expect(entries == [.success(orderUpdate)])
    }

    @Test func arrayOfEnvelopes() throws {
        let entries = try decode(
            #"[{"detail-type":"Entity Updated","detail":{"entityId":"order-7","message":"hi"}},"#
                + #"{"detail-type":"Send User Push Notification","detail":{"userId":"u1","message":"done","callback":"https://x/1"}}]"#
        ).get()
        #expect(entries.count == 2)
        #expect(entries[1] == .success(.userNotification(UserNotification(userID: UserID("u1")!, message: "done", callback: "https://x/1"))))
    }

    @Test func putEventsEntriesWithStringDetail() throws {
        let entries = try decode(
            #"{"Entries":[{"Source":"svc","DetailType":"Entity Updated","Detail":"{\"entityId\":\"order-7\",\"message\":\"hi\"}"}]}"#
        ).get()
        #expect(entries == [.success(orderUpdate)])
    }

    @Test func bareArrayOfEntriesAsInTheSeedExamples() throws {
        let entries = try decode(
            #"[{"Source":"svc","DetailType":"Entity Updated","Detail":"{\"entityId\":\"order-7\",\"message\":\"hi\",\"data\":{\"n\":1}}","EventBusName":"default"}]"#
        ).get()
        #expect(entries == [.success(.entityUpdated(EntityUpdate(entityID: EntityID("order-7")!, message: "hi", data: .object(["n": .int(1)]))))])
    }

    @Test func badEntriesFailAloneWithTheirCode() throws {
        let entries = try decode(
            #"[{"DetailType":"Order Shipped","Detail":"{}"},{"DetailType":"Entity Updated","Detail":"{\"message\":\"x\"}"},"#
                + #"{"DetailType":"Send User Push Notification","Detail":"{\"userId\":\"u\"}"},{"DetailType":"Entity Updated","Detail":"{\"entityId\":\"ok\"}"}]"#
        ).get()
        let codes = entries.map { result -> String in
            switch result {
            case .success: "ok"
            case .failure(let error): error.code
            }
        }
        #expect(codes == ["unknown_detail_type", "invalid_detail", "invalid_detail", "ok"])
    }

    @Test(arguments: ["not json", "42", "[]", "[1,2]", #"{"hello":"world"}"#, #"{"Entries":[]}"#, #"{"Entries":"x"}"#])
    func otherShapesAreRejectedWhole(body: String) {
        guard case .failure = decode(body) else {
            Issue.record("\(body) was accepted")
            return
        }
    }
}
