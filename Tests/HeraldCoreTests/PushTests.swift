import Foundation
import HeraldCore
import NIOCore
import Testing

@Suite struct PushTests {
    @Test func entityPushHasTheSeedFieldsFirst() {
        let update = EntityUpdate(
            entityID: EntityID("order-7")!,
            message: "Status changed from 'New' to \"Done\"",
            data: .object(["b": .int(1), "a": .null])
        )
        let frame = Push.entityUpdated(update, seq: 42, id: "ev-1", time: "2026-11-24T10:00:00Z")
        #expect(
            String(buffer: frame.payload)
                == #"{"type":"Entity Updated","entityId":"order-7","message":"Status changed from 'New' to \"Done\"","data":{"a":null,"b":1},"seq":42,"id":"ev-1","time":"2026-11-24T10:00:00Z"}"#
        )
    }

    @Test func anEntityPushCutAtItsSeqJoinsBackToTheWholePush() {
        let update = EntityUpdate(entityID: EntityID("order-7")!, message: "m", data: .object(["n": .int(1)]))
        let parts = Push.entityUpdated(update, id: "ev-1", time: "t")
        #expect(String(buffer: parts.beforeSeq) == #"{"type":"Entity Updated","entityId":"order-7","message":"m","data":{"n":1},"seq":"#)
        #expect(String(buffer: parts.afterSeq) == #","id":"ev-1","time":"t"}"#)
        let whole = Push.entityUpdated(update, seq: 42, id: "ev-1", time: "t")
        #expect(String(buffer: parts.beforeSeq) + "42" + String(buffer: parts.afterSeq) == String(buffer: whole.payload))
    }

    @Test func absentOptionalFieldsAreOmitted() {
        let entity = Push.entityUpdated(EntityUpdate(entityID: EntityID("e")!), seq: 1, id: "i", time: "t")
        #expect(String(buffer: entity.payload) == #"{"type":"Entity Updated","entityId":"e","seq":1,"id":"i","time":"t"}"#)
        let user = Push.userNotification(UserNotification(userID: UserID("u")!, message: "m"), id: "i", time: "t")
        #expect(String(buffer: user.payload) == #"{"type":"User Push Notification","message":"m","id":"i","time":"t"}"#)
    }

    @Test func controlCharactersAreEscapedAndTheResultParses() {
        let text = "line\nbreak\ttab \u{01} and ünïcødé"
        let frame = Push.userNotification(UserNotification(userID: UserID("u")!, message: text), id: "i", time: "t")
        #expect(JSON.parse(frame.payload.readableBytesView)?["message"] == .string(text))
    }

    @Test func wireFramesCarryTheHeaderForEachLengthClass() {
        for (length, header) in [
            (0, [0x81, 0]), (125, [0x81, 125]), (126, [0x81, 126, 0, 126]), (65_535, [0x81, 126, 0xFF, 0xFF]),
            (65_536, [0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0]),
        ] {
            let payload = ByteBuffer(repeating: UInt8(ascii: "x"), count: length)
            let frame = WireFrame.text(payload)
            #expect(Array(frame.bytes.readableBytesView.prefix(header.count)) == header.map(UInt8.init))
            #expect(frame.bytes.readableBytes == header.count + length)
            #expect(frame.payload == payload)
        }
        let close = WireFrame.close(CloseReason(code: 1013, text: String(repeating: "r", count: 200)))
        #expect(Array(close.bytes.readableBytesView.prefix(4)) == [0x88, 125, 0x03, 0xF5])
        #expect(close.bytes.readableBytes == 127)
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
