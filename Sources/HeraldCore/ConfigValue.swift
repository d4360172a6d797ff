/// Parsers for the value forms of SPEC §6: durations (`500ms`, `30s`, `10m`, `24h`, plain seconds)
/// and sizes (plain bytes, `32KiB`, `1MiB`).
public enum ConfigValue {
    /// Parses a duration; `nil` when the text is not one of the accepted forms or is negative.
    public static func duration(_ text: String) -> Duration? {
        let text = text.trimmingWhitespace()
        let units: [(suffix: String, scale: Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for unit in units where text.hasSuffix(unit.suffix) {
            let number = String(text.dropLast(unit.suffix.count))
            // "10ms" also ends in "s": only accept the unit whose prefix is a number.
            if let value = Double(number), value >= 0, value.isFinite {
                return .milliseconds(Int64((value * unit.scale * 1000).rounded()))
            }
        }
        guard let seconds = Double(text), seconds >= 0, seconds.isFinite else { return nil }
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
