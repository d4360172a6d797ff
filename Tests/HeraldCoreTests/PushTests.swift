import Foundation
import HeraldCore
import NIOCore
import Testing

@Suite struct PushTests {
    @Test func entityPushHasTheSeedFieldsFirst() {
        let update = EntityUpdate(entityID: EntityID("order-7")!, message: "Status changed from 'New' to \"Done\"", data: .object(["b": .int(1), "a": .null]))
        let frame = Push.entityUpdated(update, seq: 42, id: "ev-1", time: "2026-11-24T10:00:00Z")
        #expect(String(buffer: frame) == #"{"type":"Entity Updated","entityId":"order-7","message":"Status changed from 'New' to \"Done\"","data":{"a":null,"b":1},"seq":42,"id":"ev-1","time":"2026-11-24T10:00:00Z"}"#)
    }

    @Test func absentOptionalFieldsAreOmitted() {
        let entity = Push.entityUpdated(EntityUpdate(entityID: EntityID("e")!), seq: 1, id: "i", time: "t")
        #expect(String(buffer: entity) == #"{"type":"Entity Updated","entityId":"e","seq":1,"id":"i","time":"t"}"#)
        let user = Push.userNotification(UserNotification(userID: UserID("u")!, message: "m"), id: "i", time: "t")
        #expect(String(buffer: user) == #"{"type":"User Push Notification","message":"m","id":"i","time":"t"}"#)
    }

    @Test func controlCharactersAreEscapedAndTheResultParses() {
        let text = "line\nbreak\ttab \u{01} and ünïcødé"
        let frame = Push.userNotification(UserNotification(userID: UserID("u")!, message: text), id: "i", time: "t")
        #expect(JSON.parse(frame.readableBytesView)?["message"] == .string(text))
    }

    @Test func brokerNumbersEachEntityFromOne() async throws {
        let hub = Hub(shardCount: 2)
        let broker = MemoryBroker(hub: hub, now: { Date(timeIntervalSince1970: 1_795_000_000) })
        let a = EntityUpdate(entityID: EntityID("a")!, message: "x")
        let b = EntityUpdate(entityID: EntityID("b")!, message: "y")
        #expect(try await broker.publish(.entityUpdated(a)).seq == 1)
        #expect(try await broker.publish(.entityUpdated(a)).seq == 2)
        #expect(try await broker.publish(.entityUpdated(b)).seq == 1)
        let notification = try await broker.publish(.userNotification(UserNotification(userID: UserID("u")!, message: "m")))
        #expect(notification.seq == nil)
        #expect(notification.eventID.count == 36)
    }
}
