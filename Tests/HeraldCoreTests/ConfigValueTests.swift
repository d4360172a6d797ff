import HeraldCore
import Testing

@Suite struct ConfigValueTests {
    @Test func durations() {
        #expect(ConfigValue.duration("500ms") == .milliseconds(500))
        #expect(ConfigValue.duration("30s") == .seconds(30))
        #expect(ConfigValue.duration("10m") == .seconds(600))
        #expect(ConfigValue.duration("24h") == .seconds(86_400))
        #expect(ConfigValue.duration("45") == .seconds(45))
        #expect(ConfigValue.duration("1.5s") == .milliseconds(1500))
        for bad in ["", "abc", "10x", "-1s", "s", "ms"] { #expect(ConfigValue.duration(bad) == nil, "\(bad)") }
    }

    @Test func sizes() {
        #expect(ConfigValue.size("32768") == 32_768)
        #expect(ConfigValue.size("32KiB") == 32_768)
        #expect(ConfigValue.size("1MiB") == 1_048_576)
        for bad in ["", "1.5MiB", "-1", "12 apples", "KiB"] { #expect(ConfigValue.size(bad) == nil, "\(bad)") }
    }

    /// Today `99999999999999999999h` and `1e300s` trapped converting to Int64 milliseconds.
    @Test func durationsPastTenYearsAreRefusedNotTrapped() {
        for absurd in [
            "99999999999999999999h", "1e300s", "1e300", "9223372036854775807ms", "9223372036854775807", "87601h", "inf", "nan", "-0.5s", "1e19m",
        ] {
            #expect(ConfigValue.duration(absurd) == nil, "\(absurd)")
        }
        #expect(ConfigValue.duration("87600h") == .seconds(315_360_000))
        #expect(ConfigValue.duration("315360000") == .seconds(315_360_000))
        #expect(ConfigValue.duration("-0") == .zero)
    }

    @Test func sizesThatOverflowAreRefused() {
        for absurd in ["9223372036854775807KiB", "8589934592GiB", "99999999999999999999", "1e3", "0x10"] {
            #expect(ConfigValue.size(absurd) == nil, "\(absurd)")
        }
        #expect(ConfigValue.size("8589934591GiB") == 8_589_934_591 << 30)
    }
}
