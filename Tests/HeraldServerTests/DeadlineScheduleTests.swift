import HeraldCore
import Testing

@testable import HeraldServer

/// A connection's deadlines on one timer: only the earliest is armed, a timer is never cancelled,
/// and one that fires stale or early reaches nothing.
@Suite struct DeadlineScheduleTests {
    @Test func onlyTheEarliestDeadlineIsArmed() {
        var schedule = DeadlineSchedule()
        schedule[.tokenExpiry] = 3_000
        #expect(schedule.timerToArm() == .init(uptimeNanoseconds: 3_000, generation: 1))
        schedule[.ping] = 1_000
        #expect(schedule.timerToArm() == .init(uptimeNanoseconds: 1_000, generation: 2))
        schedule[.lifetime] = 2_000
        #expect(schedule.timerToArm() == nil, "the armed timer fires first")
        #expect(schedule.fired(1, now: 3_000) == [], "the timer armed first is stale")
        #expect(schedule.fired(2, now: 1_000) == [.ping])
        #expect(schedule.timerToArm() == .init(uptimeNanoseconds: 2_000, generation: 3))
        #expect(schedule.fired(3, now: 3_500) == [.lifetime, .tokenExpiry], "every deadline reached, earliest first")
        #expect(schedule.timerToArm() == nil)
    }

    @Test func aCancelledOrLaterDeadlineLeavesItsTimerToFindNothing() {
        var schedule = DeadlineSchedule()
        schedule[.ping] = 1_000
        #expect(schedule.timerToArm()?.generation == 1)
        schedule[.ping] = 5_000
        #expect(schedule.timerToArm() == nil, "no second timer for a later deadline")
        #expect(schedule.fired(1, now: 1_000) == [])
        #expect(schedule.timerToArm() == .init(uptimeNanoseconds: 5_000, generation: 2))
        schedule[.ping] = nil
        #expect(schedule.fired(2, now: 5_000) == [])
        #expect(schedule.timerToArm() == nil)
        #expect(schedule.fired(2, now: 6_000) == [], "a timer fires once")
    }
}
