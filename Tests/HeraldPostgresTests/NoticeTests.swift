import HeraldCore
@testable import HeraldPostgres
import Testing

@Suite struct NoticeTests {
    private let entity = EntityID("order 7/ü")!
    private let user = UserID("ada@example.com")!

    @Test(arguments: [
        Notice.entityEvent(EntityID("order 7/ü")!, seq: 42, epoch: "3f2a", push: #"{"type":"Entity Updated","message":"two\nlines"}"#),
        Notice.entityEvent(EntityID("order 7/ü")!, seq: 1, epoch: "3f2a", push: nil),
        Notice.userNotification(UserID("ada@example.com")!, .inline("{\"a\":\"\n\n\"}")),
        Notice.userNotification(UserID("ada@example.com")!, .stored(9_000_000_000)),
        Notice.question(request: "r1", from: "node-a", .inline(#"{"op":"get","text":"a\nb"}"#)),
        Notice.question(request: "r1", from: "node-a", .stored(7)),
        Notice.answer(request: "r1", to: "node-a", .inline("{}")),
        Notice.answer(request: "r1", to: "node-a", .stored(8)),
    ])
    func everyNoticeReadsBackAsItWasWritten(notice: Notice) {
        #expect(Notice(payload: notice.payload) == notice)
    }

    @Test func theDatabasesFormOfAnEntityEventIsRead() {
        // What the publish statement builds (`Notice.entityEventSQL`): e, seq, epoch, entity, push.
        #expect(Notice(payload: "e\n3\n3f2a\norder 7/ü\n{}") == .entityEvent(entity, seq: 3, epoch: "3f2a", push: "{}"))
        #expect(Notice(payload: "E\n3\n3f2a\norder 7/ü") == .entityEvent(entity, seq: 3, epoch: "3f2a", push: nil))
        let longEpoch = String(repeating: "x", count: Notice.maximumEpochBytes + 1)
        #expect(Notice(payload: "e\n3\n\(longEpoch)\norder 7/ü\n{}") == nil, "an epoch no database made")
        #expect(Notice(payload: "U\nada@example.com\n12") == .userNotification(user, .stored(12)))
        #expect(Notice.userNotification(user, .stored(12)).storedPrefix + "12" == "U\nada@example.com\n12")
        #expect(Notice.question(request: "r", from: "n", .stored(3)).storedPrefix + "3" == Notice.question(request: "r", from: "n", .stored(3)).payload)
    }

    @Test(arguments: ["", "e", "e\n", "x\n1\ne\n{}", "e\nseven\nep\norder\n{}", "e\n0\nep\norder\n{}", "e\n1\nep\n\n{}", "e\n1\n\norder\n{}", "e\n1\norder\n{}", "E\n1", "E\n1\nep", "u\n", "U\nada\nx", "q\nr1\n\n{}", "Q\nr1\nnode\nbig", "a\n\nnode\n{}"])
    func anythingElseIsNotANotice(payload: String) {
        #expect(Notice(payload: payload) == nil)
    }
}
