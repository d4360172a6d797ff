#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The one place that turns bytes into `JSONValue` and values into bytes.
public enum JSON {
    /// Parses one JSON document; `nil` when the bytes are not JSON.
    public static func parse(_ bytes: some Collection<UInt8>) -> JSONValue? {
        JSONParser.parse(Array(bytes))
    }

    /// Parses one JSON document held in a string.
    public static func parse(_ text: String) -> JSONValue? {
        parse(Array(text.utf8))
    }

    /// Encodes a value as compact JSON with sorted keys (stable output for equal values).
    public static func encode(_ value: some Encodable) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding our own value types cannot fail: they hold only strings, numbers and nested values.
        return (try? Array(encoder.encode(value))) ?? Array("null".utf8)
    }

    /// Encodes a string as a JSON string literal, quotes included.
    public static func quoted(_ string: String) -> [UInt8] {
        encode(string)
    }
}
