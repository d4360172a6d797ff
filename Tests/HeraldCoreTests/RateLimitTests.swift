import HeraldCore
import Testing

@Suite struct RateLimitTests {
    private let second: UInt64 = 1_000_000_000

    @Test func aSecondsWorthPassesThenMessagesAreRefusedThenTheConnectionCloses() {
        var limit = RateLimit(perSecond: 3, now: 0)
        let burst = (0..<7).map { _ in limit.eventOccurred(now: 0) }
        #expect(burst == [.handle, .handle, .handle, .refuse, .refuse, .refuse, .close])
    }

    @Test func tokensComeBackAtTheConfiguredRate() {
        var limit = RateLimit(perSecond: 4, now: 0)
        for _ in 0..<4 { #expect(limit.eventOccurred(now: 0) == .handle) }
        #expect(limit.eventOccurred(now: 0) == .refuse)
        #expect(limit.eventOccurred(now: second / 4) == .handle)  // one token per 250 ms
        #expect(limit.eventOccurred(now: second / 4) == .refuse)
        // A quiet spell refills at most one second's worth.
        for _ in 0..<4 { #expect(limit.eventOccurred(now: 60 * second) == .handle) }
        #expect(limit.eventOccurred(now: 60 * second) == .refuse)
    }

    @Test func aHandledMessageEndsTheRunOfRefusals() {
        var limit = RateLimit(perSecond: 2, now: 0)
        _ = (0..<2).map { _ in limit.eventOccurred(now: 0) }
        #expect(limit.eventOccurred(now: 0) == .refuse)
        #expect(limit.eventOccurred(now: 0) == .refuse)
        #expect(limit.eventOccurred(now: second / 2) == .handle)
        #expect(limit.eventOccurred(now: second / 2) == .refuse)
        #expect(limit.eventOccurred(now: second / 2) == .refuse)
        #expect(limit.eventOccurred(now: second / 2) == .close)
    }

    @Test func zeroMeansNoLimit() {
        var limit = RateLimit(perSecond: 0, now: 0)
        for _ in 0..<1_000 { #expect(limit.eventOccurred(now: 0) == .handle) }
    }
}
