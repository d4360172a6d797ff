import HeraldCore

/// Builders for the `--json` report on top of HeraldCore's `JSONValue` (encoded with `JSON.encode`,
/// keys sorted, so the output is stable).
extension JSONValue {
    /// An object from key–value pairs (written in report order, encoded with sorted keys).
    static func members(_ pairs: [(String, JSONValue)]) -> JSONValue {
        .object(Dictionary(pairs, uniquingKeysWith: { _, last in last }))
    }

    /// A number rounded to `decimals`, or null when it is absent or not finite.
    static func number(_ value: Double?, decimals: Int = 3) -> JSONValue {
        guard let value, value.isFinite else { return .null }
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        return .double((value * scale).rounded() / scale)
    }

    static func number(_ value: Int?) -> JSONValue { value.map(JSONValue.int) ?? .null }

    /// `{"key": count}`.
    static func counts<Key: CustomStringConvertible>(_ counts: [Key: Int]) -> JSONValue {
        members(counts.map { ($0.key.description, .int($0.value)) })
    }
}
