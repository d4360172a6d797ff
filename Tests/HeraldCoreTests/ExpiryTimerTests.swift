import HeraldCore
import Testing

@Suite struct ExpiryTimerTests {
    @Test func aNearExpiryClosesAtExpPlusLeeway() {
        let timer = ExpiryTimer(expiresAt: 1_000, leeway: .seconds(30), now: 1_000.5)
        #expect(timer == ExpiryTimer(delay: .milliseconds(29_500), expires: true))
        #expect(ExpiryTimer(expiresAt: 1_000, leeway: .zero, now: 5_000) == ExpiryTimer(delay: .zero, expires: true))
    }

    /// A token valid until the year 9999 is waited for a day at a time, never with a delay that overflows.
    @Test func aFarExpiryIsWaitedForInSteps() {
        let far = ExpiryTimer(expiresAt: 253_402_300_799, leeway: .seconds(315_360_000), now: 0)
        #expect(far == ExpiryTimer(delay: ExpiryTimer.longestStep, expires: false))
        #expect(ExpiryTimer(expiresAt: .max, leeway: .seconds(30), now: 0).expires == false)
        #expect(ExpiryTimer(expiresAt: .min, leeway: .seconds(30), now: 0) == ExpiryTimer(delay: .zero, expires: true))
        #expect(ExpiryTimer(expiresAt: 0, leeway: .zero, now: .nan).expires == false)
    }
}
