/// A tiny JSON writer with keys in the order given, so `--json` output has stable, readable keys.
indirect enum JSONText {
    case object([(String, JSONText)])
    case array([JSONText])
    case string(String)
    case int(Int)
    case double(Double)
    case bool(Bool)
    case null

    /// A number, or null when it is absent or not finite.
    static func number(_ value: Double?, decimals: Int = 3) -> JSONText {
        guard let value, value.isFinite else { return .null }
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        return .double((value * scale).rounded() / scale)
    }

    static func number(_ value: Int?) -> JSONText { value.map(JSONText.int) ?? .null }

    /// `{"key": count}` with keys sorted.
    static func counts<Key: Comparable & CustomStringConvertible>(_ counts: [Key: Int]) -> JSONText {
        .object(counts.sorted { $0.key < $1.key }.map { ($0.key.description, .int($0.value)) })
    }

    var rendered: String {
        var output = ""
        render(into: &output)
        return output
    }

    private func render(into output: inout String) {
        switch self {
        case .object(let members):
            output += "{"
            for (position, (key, value)) in members.enumerated() {
                if position > 0 { output += "," }
                Self.quote(key, into: &output)
                output += ":"
                value.render(into: &output)
            }
            output += "}"
        case .array(let elements):
            output += "["
            for (position, element) in elements.enumerated() {
                if position > 0 { output += "," }
                element.render(into: &output)
            }
            output += "]"
        case .string(let text): Self.quote(text, into: &output)
        case .int(let value): output += String(value)
        case .double(let value):
            output += value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
        case .bool(let value): output += value ? "true" : "false"
        case .null: output += "null"
        }
    }

    private static func quote(_ text: String, into output: inout String) {
        output += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                output += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: output.unicodeScalars.append(scalar)
            }
        }
        output += "\""
    }
}
