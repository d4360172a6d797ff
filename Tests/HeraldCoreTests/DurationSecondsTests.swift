import HeraldCore
import Testing

@Suite struct DurationSecondsTests {
    /// Today a duration past 292 years trapped converting to Int64 nanoseconds.
    @Test func nanosecondsSaturateInsteadOfTrapping() {
        #expect(Duration.seconds(Int64.max).inNanoseconds == .max)
        #expect(Duration.seconds(Int64.min).inNanoseconds == .min)
        #expect(Duration.seconds(9_300_000_000).inNanoseconds == .max)
        #expect(Duration.milliseconds(1_500).inNanoseconds == 1_500_000_000)
        #expect(Duration.seconds(-2).inNanoseconds == -2_000_000_000)
    }
}
