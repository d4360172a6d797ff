/// Parsers for the value forms of OPERATIONS.md §2: durations (`500ms`, `30s`, `10m`, `24h`, plain seconds)
/// and sizes (plain bytes, `32KiB`, `1MiB`).
public enum ConfigValue {
    /// The longest duration any setting takes: ten years (`87600h`). Longer ones are refused rather
    /// than overflowing the nanosecond timers they end up in.
    public static let maximumDuration: Duration = .seconds(maximumDurationSeconds)
    private static let maximumDurationSeconds = 10 * 365 * 86_400

    /// Parses a duration; `nil` when the text is not one of the accepted forms, is negative, or is
    /// longer than `maximumDuration`. Precision is one millisecond.
    public static func duration(_ text: String) -> Duration? {
        let text = text.trimmingWhitespace()
        let units: [(suffix: String, scale: Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for unit in units where text.hasSuffix(unit.suffix) {
            // "10ms" also ends in "s": only accept the unit whose prefix is a number.
            if let value = Double(String(text.dropLast(unit.suffix.count))) { return duration(seconds: value * unit.scale) }
        }
        return Double(text).flatMap(duration(seconds:))
    }

    /// `seconds` as a whole number of milliseconds, when it is from 0 to `maximumDuration`.
    private static func duration(seconds: Double) -> Duration? {
        // Compared before any conversion: NaN, infinities and 1e300 never reach Int64(_:).
        guard seconds >= 0, seconds <= Double(maximumDurationSeconds) else { return nil }
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }

    /// Parses a size in bytes; `nil` when the text is not one of the accepted forms or is negative.
    public static func size(_ text: String) -> Int? {
        let text = text.trimmingWhitespace()
        let units: [(suffix: String, scale: Int)] = [("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("B", 1)]
        for unit in units where text.hasSuffix(unit.suffix) {
            guard let value = Int(text.dropLast(unit.suffix.count)), value >= 0 else { return nil }
            let (bytes, overflow) = value.multipliedReportingOverflow(by: unit.scale)
            return overflow ? nil : bytes
        }
        guard let bytes = Int(text), bytes >= 0 else { return nil }
        return bytes
    }
}

extension String {
    func trimmingWhitespace() -> String {
        String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}
