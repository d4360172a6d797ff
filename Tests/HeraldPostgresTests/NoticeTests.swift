import HeraldCore
@testable import HeraldPostgres
import Testing

@Suite struct NoticeTests {
    private let entity = EntityID("order 7/ü")!
    private let user = UserID("ada@example.com")!

    @Test(arguments: [
        Notice.entityEvent(EntityID("order 7/ü")!, seq: 42, push: #"{"type":"Entity Updated","message":"two\nlines"}"#),
        Notice.entityEvent(EntityID("order 7/ü")!, seq: 1, push: nil),
        Notice.userNotification(UserID("ada@example.com")!, push: "{\"a\":\"\n\n\"}", storedAs: nil),
        Notice.userNotification(UserID("ada@example.com")!, push: nil, storedAs: 9_000_000_000),
    ])
    func everyNoticeReadsBackAsItWasWritten(notice: Notice) {
        #expect(Notice(payload: notice.payload) == notice)
    }

    @Test func theDatabasesFormOfAnEntityEventIsRead() {
        // What the publish statement builds: 'e' || chr(10) || seq || chr(10) || entity || chr(10) || push.
        #expect(Notice(payload: "e\n3\norder 7/ü\n{}") == .entityEvent(entity, seq: 3, push: "{}"))
        #expect(Notice(payload: "E\n3\norder 7/ü") == .entityEvent(entity, seq: 3, push: nil))
        #expect(Notice(payload: "U\n12\nada@example.com") == .userNotification(user, push: nil, storedAs: 12))
    }

    @Test(arguments: ["", "e", "e\n", "x\n1\ne\n{}", "e\nseven\norder\n{}", "e\n0\norder\n{}", "e\n1\n\n{}", "E\n1", "u\n", "U\nx\nada"])
    func anythingElseIsNotANotice(payload: String) {
        #expect(Notice(payload: payload) == nil)
    }
}
