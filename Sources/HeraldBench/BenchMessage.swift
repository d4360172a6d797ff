/// The payload of one benchmark publish: `ts=<send time, monotonic ns>;n=<publish index>;` padded
/// with `x` to the requested size. Subscribers find it inside whatever frame the server wraps it in
/// (Herald's JSON push, Nchan's raw body) by scanning bytes, so receiving costs no JSON decoding.
public enum BenchMessage {
    /// The smallest payload that still carries both fields for any realistic timestamp and index.
    public static let minimumBytes = 32

    /// The message text for publish `index`, sent at `sentAt` (monotonic nanoseconds), `size` bytes long
    /// (longer only when the two fields alone do not fit).
    public static func make(sentAt: UInt64, index: Int, size: Int) -> String {
        var text = "ts=\(sentAt);n=\(index);"
        let missing = size - text.utf8.count
        if missing > 0 { text += String(repeating: "x", count: missing) }
        return text
    }

    /// The send time and publish index embedded in `bytes`, or nil when the bytes carry none.
    /// Looks for the first `ts=` followed by digits, `;n=`, digits and `;`.
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> (sentAt: UInt64, index: Int)? {
        let count = bytes.count
        var position = 0
        while position + 3 <= count {
            if bytes[position] == UInt8(ascii: "t"), bytes[position + 1] == UInt8(ascii: "s"), bytes[position + 2] == UInt8(ascii: "=") {
                var cursor = position + 3
                if let sentAt = digits(bytes, &cursor),
                    cursor + 3 <= count,
                    bytes[cursor] == UInt8(ascii: ";"), bytes[cursor + 1] == UInt8(ascii: "n"), bytes[cursor + 2] == UInt8(ascii: "=")
                {
                    cursor += 3
                    if let index = digits(bytes, &cursor), cursor < count, bytes[cursor] == UInt8(ascii: ";"), index <= UInt64(Int.max) {
                        return (sentAt, Int(index))
                    }
                }
            }
            position += 1
        }
        return nil
    }

    /// Convenience for tests and callers holding an array.
    public static func parse(_ bytes: [UInt8]) -> (sentAt: UInt64, index: Int)? {
        bytes.withUnsafeBytes { parse($0) }
    }

    /// Reads 1–19 decimal digits at `cursor`, advancing it; nil when there are none or too many.
    private static func digits(_ bytes: UnsafeRawBufferPointer, _ cursor: inout Int) -> UInt64? {
        let start = cursor
        var value: UInt64 = 0
        while cursor < bytes.count, cursor - start < 19 {
            let byte = bytes[cursor]
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { break }
            value = value * 10 + UInt64(byte - UInt8(ascii: "0"))
            cursor += 1
        }
        guard cursor > start else { return nil }
        if cursor < bytes.count, bytes[cursor] >= UInt8(ascii: "0"), bytes[cursor] <= UInt8(ascii: "9") { return nil }
        return value
    }
}
