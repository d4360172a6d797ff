import Foundation
import HeraldCore
import Testing

@testable import HeraldPostgres

/// An opener behind a reference, so `#expect` can call its mutating method.
private final class Opener {
    var state: NoticeOpener
    init(_ state: NoticeOpener) { self.state = state }
    func open(_ text: String, now: Date) -> Result<[UInt8], RejectedNotice> { state.open(text, now: now) }
    var senderCount: Int { state.senderCount }
}

@Suite struct NoticeSealTests {
    private let secret = ClusterSecret("cluster-secret-0123456789abcdef-0123456789")!
    private let other = ClusterSecret("another-secret-0123456789abcdef-0123456789")!
    private let start = Date(timeIntervalSince1970: 1_800_000_000)
    private let content = Array("some notices".utf8)

    private func opener(_ secrets: [ClusterSecret]? = nil) -> Opener {
        Opener(NoticeOpener(secrets: secrets ?? [secret], startedAt: start))
    }

    @Test func aSealedNoticeOpensOnceWithTheSecret() {
        let sealer = NoticeSealer(secret: secret)
        let opener = opener()
        let text = sealer.seal(content, at: start + 1)
        #expect(opener.open(text, now: start + 1.5) == .success(content))
        #expect(opener.open(text, now: start + 2) == .failure(.replayed))
        #expect(!text.contains("notices"))
    }

    @Test func anotherSecretOrAnAlteredNoticeDoesNotOpen() throws {
        let text = NoticeSealer(secret: other).seal(content, at: start + 1)
        let opener = opener()
        #expect(opener.open(text, now: start + 1) == .failure(.unauthenticated))
        var bytes = try #require(Data(base64Encoded: NoticeSealer(secret: secret).seal(content, at: start + 1)))
        for index in [1, 20, NoticeSeal.headerBytes + 2, bytes.count - 1] {
            var altered = bytes
            altered[index] ^= 0x01
            #expect(opener.open(altered.base64EncodedString(), now: start + 1) == .failure(.unauthenticated), "byte \(index)")
        }
        bytes[0] = 2
        #expect(opener.open(bytes.base64EncodedString(), now: start + 1) == .failure(.malformed), "another version")
        #expect(opener.senderCount == 0, "nothing that failed to open is remembered")
    }

    @Test(arguments: ["", "e\n1\nepoch\norder-7\n{}", "!!!!", "AQID", String(repeating: "A", count: 8_000)])
    func whatIsNotASealedNoticeIsMalformed(text: String) {
        let opener = opener()
        #expect(opener.open(text, now: start) == .failure(.malformed))
    }

    @Test func thePreviousSecretOpensToo() {
        let opener = opener([other, secret])
        #expect(opener.open(NoticeSealer(secret: secret).seal(content, at: start), now: start) == .success(content))
        #expect(opener.open(NoticeSealer(secret: other).seal(content, at: start), now: start) == .success(content))
    }

    @Test func onlyFreshNoticesOpen() {
        let sealer = NoticeSealer(secret: secret)
        let opener = opener()
        #expect(opener.open(sealer.seal(content, at: start - 0.01), now: start) == .failure(.stale), "sealed before this node started")
        #expect(opener.open(sealer.seal(content, at: start + 100), now: start + 131) == .failure(.stale), "older than 30 s")
        #expect(opener.open(sealer.seal(content, at: start + 200), now: start + 169) == .failure(.stale), "more than 30 s ahead")
        #expect(opener.open(sealer.seal(content, at: start + 300), now: start + 329) == .success(content))
        #expect(opener.open(sealer.seal(content, at: start + 400), now: start + 371) == .success(content))
    }

    /// Notices of one sender may arrive out of order (two of its transactions committed the
    /// other way round); each is accepted once.
    @Test func noticesOutOfOrderAreAcceptedOnce() {
        let sealer = NoticeSealer(secret: secret)
        let opener = opener()
        let texts = (0..<5).map { sealer.seal(content, at: start + Double($0)) }
        for index in [0, 2, 1, 4, 3] { #expect(opener.open(texts[index], now: start + 5) == .success(content), "\(index)") }
        for index in 0..<5 { #expect(opener.open(texts[index], now: start + 5) == .failure(.replayed), "\(index) again") }
    }

    /// A sender is forgotten once none of its notices could be fresh: a copy is then stale.
    @Test func aQuietSenderIsForgottenAndItsCopiesAreStale() {
        let sealer = NoticeSealer(secret: secret)
        let opener = opener()
        let text = sealer.seal(content, at: start + 10)
        #expect(opener.open(text, now: start + 10) == .success(content))
        #expect(opener.open(NoticeSealer(secret: secret).seal(content, at: start + 20), now: start + 20) == .success(content))
        #expect(opener.senderCount == 2)
        #expect(opener.open(text, now: start + 41) == .failure(.stale))
        #expect(opener.senderCount == 1, "the first sender's last notice can no longer be fresh")
    }

    /// The largest content a sealed notice holds stays within PostgreSQL's notification limit.
    @Test func theLargestSealedNoticeFitsANotification() {
        let text = NoticeSealer(secret: secret).seal(Array(repeating: 0x41, count: NoticeSeal.maximumContentBytes), at: start)
        #expect(text.utf8.count <= 7_999)
        #expect(text.utf8.count > 7_990)
        let opener = opener()
        #expect(opener.open(text, now: start) == .success(Array(repeating: 0x41, count: NoticeSeal.maximumContentBytes)))
    }

    /// Two runs never share a key: the same content and counter give other bytes.
    @Test func eachRunHasItsOwnKey() {
        let first = NoticeSealer(secret: secret, runID: Array(repeating: 1, count: 16)).seal(content, at: start)
        let second = NoticeSealer(secret: secret, runID: Array(repeating: 2, count: 16)).seal(content, at: start)
        #expect(Data(base64Encoded: first)!.dropFirst(NoticeSeal.headerBytes) != Data(base64Encoded: second)!.dropFirst(NoticeSeal.headerBytes))
    }
}
