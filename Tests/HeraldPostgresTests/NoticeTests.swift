import HeraldCore
import Testing

@testable import HeraldPostgres

@Suite struct NoticeTests {
    static let notices: [Notice] = [
        .entityEvent(EntityID("order 7/ü")!, seq: 42, epoch: "3f2a", push: #"{"type":"Entity Updated","message":"two\nlines"}"#),
        .entityEvent(EntityID("order 7/ü")!, seq: 1, epoch: "3f2a", push: nil),
        .entityEvent(EntityID("e")!, seq: Int.max, epoch: "x", push: ""),
        .userNotification(UserID("ada@example.com")!, .inline("{\"a\":\"\n\n\"}")),
        .userNotification(UserID("ada@example.com")!, .stored(9_000_000_000)),
        .question(request: "r1", from: "node-a", .inline(#"{"op":"get","text":"a\nb"}"#)),
        .question(request: "r1", from: "node-a", .stored(7)),
        .answer(request: "r1", to: "node-a", .inline("{}")),
        .answer(request: "r1", to: "node-a", .stored(8)),
    ]

    @Test(arguments: notices)
    func everyNoticeReadsBackAsItWasWritten(notice: Notice) {
        var bytes: [UInt8] = []
        notice.encode(into: &bytes)
        #expect(bytes.count == notice.encodedCount)
        #expect(Notice.decode(bytes) == [notice])
    }

    @Test func noticesPackedTogetherReadBackInOrder() {
        let packed = Notice.pack(Self.notices)
        #expect(packed.count == 1)
        #expect(Notice.decode(packed[0]) == Self.notices)
    }

    /// Notices are packed in order, each sealed notice as full as it can be and within the limit.
    @Test func manyNoticesFillSeveralSealedNoticesInOrder() {
        let notices = (1...500).map { Notice.entityEvent(EntityID("order-\($0)")!, seq: $0, epoch: "3f2a", push: String(repeating: "p", count: 100)) }
        let packed = Notice.pack(notices)
        #expect(packed.count > 1)
        #expect(packed.allSatisfy { $0.count <= NoticeSeal.maximumContentBytes })
        #expect(packed.dropLast().allSatisfy { $0.count > NoticeSeal.maximumContentBytes - notices[0].encodedCount - 8 })
        #expect(packed.flatMap { Notice.decode($0) ?? [] } == notices)
    }

    @Test func aNoticeTooLargeForOneIsKnown() {
        let entity = EntityID("order-7")!
        let fits = Notice.entityEvent(entity, seq: 1, epoch: "e", push: "")
        let room = NoticeSeal.maximumContentBytes - fits.encodedCount - 1  // a push this long has a 2-byte length, not 1
        #expect(Notice.entityEvent(entity, seq: 1, epoch: "e", push: String(repeating: "x", count: room)).fitsOneNotice)
        #expect(!Notice.entityEvent(entity, seq: 1, epoch: "e", push: String(repeating: "x", count: room + 1)).fitsOneNotice)
    }

    @Test(
        arguments: [
            [], [0], [9], [1], [1, 1, 0x61], [1, 1, 0x61, 0, 1, 0x65], [1, 1, 0x61, 1, 0, 1, 0x65, 0], [1, 0, 1, 1, 0x65, 0],
            [1, 1, 0x61, 1, 1, 0x65, 5, 0x7b], [2, 1, 0x61, 1, 65, 0x65], [3, 0, 0], [4, 1, 0x61], [5, 0, 1, 0x6e, 0], [6, 1, 0x72, 0, 1],
            [1, 1, 0xff, 1, 1, 0x65, 0], [4, 1, 0x61, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
            [7, 1, 0x72, 1, 0x6e], [1, 1, 0x61, 1, 1, 0x65, 0, 7, 1, 0x72],
        ] as [[UInt8]]
    )
    func anythingElseIsNotANotice(bytes: [UInt8]) {
        #expect(Notice.decode(bytes) == nil)
    }
}
