import NIOCore
import Testing

@testable import HeraldServer

/// `ConnectionDeadline` alone, with made-up instants: which deadline applies when, what it closes
/// and counts, and when the pending slot is given back.
@Suite struct ConnectionDeadlineTests {
    static let timeouts = ConnectionDeadline.Timeouts(request: .seconds(10), body: .seconds(30), keepAlive: .seconds(60))
    static let accepted = NIODeadline.uptimeNanoseconds(1_000_000_000)

    static func at(_ seconds: Int64) -> NIODeadline { accepted + .seconds(seconds) }

    @Test func theRequestHeadHasTheRequestTimeoutFromAccept() {
        var deadline = ConnectionDeadline(timeouts: Self.timeouts, acceptedAt: Self.accepted)
        #expect(deadline.firstDeadline == Self.at(10))
        // Bytes before the head (a TLS handshake, a slow head) move nothing.
        #expect(deadline.bytesReceived(1, now: Self.at(9)) == [])
        #expect(deadline.deadlinePassed(now: Self.at(9)) == [.arm(Self.at(10))])
        #expect(deadline.deadlinePassed(now: Self.at(10)) == [.shed(.requestTimeout)])
        #expect(deadline.closed() == [.releasePending])
        #expect(deadline.closed() == [])
    }

    @Test func theBodyHasTheBodyTimeoutFromItsHead() {
        var deadline = ConnectionDeadline(timeouts: Self.timeouts, acceptedAt: Self.accepted)
        #expect(deadline.requestHeadReceived(now: Self.at(2)) == [.arm(Self.at(32))])
        #expect(deadline.deadlinePassed(now: Self.at(10)) == [.arm(Self.at(32))])
        #expect(deadline.deadlinePassed(now: Self.at(32)) == [.shed(.bodyTimeout)])
    }

    @Test func aResponseBeingMadeHasNoDeadlineThenKeepAliveApplies() {
        var deadline = ConnectionDeadline(timeouts: Self.timeouts, acceptedAt: Self.accepted)
        _ = deadline.requestHeadReceived(now: Self.at(1))
        #expect(deadline.requestBodyReceived(now: Self.at(1)) == [])
        #expect(deadline.deadlinePassed(now: Self.at(500)) == [])
        #expect(deadline.responseSent(closing: false, now: Self.at(600)) == [.releasePending, .arm(Self.at(660))])
        #expect(deadline.deadlinePassed(now: Self.at(660)) == [.shed(.keepAliveTimeout)])
    }

    @Test func theNextRequestOnAKeepAliveConnectionHasTheRequestTimeoutFromItsFirstByte() {
        var deadline = ConnectionDeadline(timeouts: Self.timeouts, acceptedAt: Self.accepted)
        _ = deadline.requestHeadReceived(now: Self.at(1))
        _ = deadline.requestBodyReceived(now: Self.at(1))
        _ = deadline.responseSent(closing: false, now: Self.at(2))
        #expect(deadline.bytesReceived(10, now: Self.at(50)) == [.arm(Self.at(60))])
        #expect(deadline.bytesReceived(10, now: Self.at(55)) == [])
        #expect(deadline.deadlinePassed(now: Self.at(60)) == [.shed(.requestTimeout)])
    }

    @Test func pipelinedRequestsAreIdleOnlyOnceAllAreAnswered() {
        var deadline = ConnectionDeadline(timeouts: Self.timeouts, acceptedAt: Self.accepted)
        _ = deadline.requestHeadReceived(now: Self.at(1))
        _ = deadline.requestBodyReceived(now: Self.at(1))
        #expect(deadline.requestHeadReceived(now: Self.at(1)) == [.arm(Self.at(31))])
        #expect(deadline.requestBodyReceived(now: Self.at(1)) == [])
        #expect(deadline.responseSent(closing: false, now: Self.at(2)) == [.releasePending])
        #expect(deadline.responseSent(closing: false, now: Self.at(3)) == [.arm(Self.at(63))])
    }

    @Test func anEarlyResponseLeavesTheBodyDeadlineInPlace() {
        var deadline = ConnectionDeadline(timeouts: Self.timeouts, acceptedAt: Self.accepted)
        _ = deadline.requestHeadReceived(now: Self.at(1))
        #expect(deadline.responseSent(closing: false, now: Self.at(2)) == [.releasePending])
        #expect(deadline.deadlinePassed(now: Self.at(31)) == [.shed(.bodyTimeout)])
    }

    @Test func aClosingResponseLingersBoundedInTimeAndBytes() {
        var deadline = ConnectionDeadline(timeouts: Self.timeouts, acceptedAt: Self.accepted)
        _ = deadline.requestHeadReceived(now: Self.at(1))
        #expect(deadline.responseSent(closing: true, now: Self.at(2)) == [.releasePending, .closeOutput, .arm(Self.at(4))])
        let half = Self.timeouts.lingerBytes / 2
        #expect(deadline.bytesReceived(half, now: Self.at(2)) == [.discard])
        #expect(deadline.requestHeadReceived(now: Self.at(2)) == [])
        #expect(deadline.bytesReceived(half, now: Self.at(3)) == [.discard])
        #expect(deadline.bytesReceived(1, now: Self.at(3)) == [.discard, .close])

        var timed = ConnectionDeadline(timeouts: Self.timeouts, acceptedAt: Self.accepted)
        _ = timed.responseSent(closing: true, now: Self.at(2))
        #expect(timed.deadlinePassed(now: Self.at(4)) == [.close])
    }

    @Test func anUpgradeEndsTheDeadlinesAndFreesTheSlot() {
        var deadline = ConnectionDeadline(timeouts: Self.timeouts, acceptedAt: Self.accepted)
        _ = deadline.requestHeadReceived(now: Self.at(1))
        _ = deadline.requestBodyReceived(now: Self.at(1))
        #expect(deadline.upgraded() == [.releasePending, .remove])
        #expect(deadline.deadlinePassed(now: Self.at(1000)) == [])
        #expect(deadline.closed() == [])
    }

    @Test func theClientClosingItsSideEndsAnUnfinishedRequestButNotAResponse() {
        var waiting = ConnectionDeadline(timeouts: Self.timeouts, acceptedAt: Self.accepted)
        #expect(waiting.inputEnded() == [.close])

        var answered = ConnectionDeadline(timeouts: Self.timeouts, acceptedAt: Self.accepted)
        _ = answered.requestHeadReceived(now: Self.at(1))
        _ = answered.requestBodyReceived(now: Self.at(1))
        #expect(answered.inputEnded() == [])
        #expect(answered.responseSent(closing: false, now: Self.at(2)) == [.releasePending, .close])
    }

    @Test func shutdownClosesWhatIsNotMidExchange() {
        var waiting = ConnectionDeadline(timeouts: Self.timeouts, acceptedAt: Self.accepted)
        #expect(waiting.quiesced() == [.close])
        var busy = ConnectionDeadline(timeouts: Self.timeouts, acceptedAt: Self.accepted)
        _ = busy.requestHeadReceived(now: Self.at(1))
        #expect(busy.quiesced() == [])
    }

    @Test func pendingConnectionsAreBoundedAcrossAdmissions() {
        let pending = PendingConnections(limit: 2)
        #expect(pending.admit() && pending.admit())
        #expect(!pending.admit())
        pending.release()
        #expect(pending.admit())
        #expect(pending.current == 2)
    }
}
