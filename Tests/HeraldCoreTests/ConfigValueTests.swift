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
}
