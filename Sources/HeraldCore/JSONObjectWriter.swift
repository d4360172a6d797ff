public import NIOCore

/// Writes one JSON object into a `ByteBuffer`, keys in the order they are written.
///
/// Server frames are built with it so that the AWS quick start's fields come first and each push is
/// encoded exactly once, straight into the bytes every subscriber receives.
public struct JSONObjectWriter {
    private(set) var buffer: ByteBuffer
    private var isEmpty = true

    public init(capacity: Int = 256) {
        buffer = ByteBufferAllocator().buffer(capacity: capacity)
        buffer.writeInteger(UInt8(ascii: "{"))
    }

    /// Adds a string member.
    public mutating func add(_ key: StaticString, _ value: String) {
        writeKey(key)
        Self.writeQuoted(value, into: &buffer)
    }

    /// Adds a string member when the value is present.
    public mutating func add(_ key: StaticString, ifPresent value: String?) {
        if let value { add(key, value) }
    }

    /// Adds an integer member.
    public mutating func add(_ key: StaticString, _ value: Int) {
        writeKey(key)
        buffer.writeString(String(value))
    }

    /// Adds a boolean member.
    public mutating func add(_ key: StaticString, _ value: Bool) {
        writeKey(key)
        buffer.writeStaticString(value ? "true" : "false")
    }

    /// Adds any JSON value when present.
    public mutating func add(_ key: StaticString, ifPresent value: JSONValue?) {
        guard let value else { return }
        writeKey(key)
        buffer.writeBytes(JSON.encode(value))
    }

    /// Writes the key of a member whose value is written elsewhere, and hands over everything
    /// written so far; the writer goes on after that value (the next member starts with a comma).
    public mutating func cut(beforeValueOf key: StaticString) -> ByteBuffer {
        writeKey(key)
        defer { buffer = ByteBufferAllocator().buffer(capacity: 96) }
        return buffer
    }

    /// Closes the object and returns its bytes.
    public consuming func finish() -> ByteBuffer {
        buffer.writeInteger(UInt8(ascii: "}"))
        return buffer
    }

    private mutating func writeKey(_ key: StaticString) {
        if !isEmpty { buffer.writeInteger(UInt8(ascii: ",")) }
        isEmpty = false
        buffer.writeInteger(UInt8(ascii: "\""))
        buffer.writeStaticString(key)
        buffer.writeStaticString("\":")
    }

    /// Writes a JSON string literal: quotes, backslashes and control characters escaped, the rest
    /// as UTF-8, in runs between the bytes that need escaping (one copy each, not one write per byte).
    static func writeQuoted(_ string: String, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "\""))
        let utf8 = string.utf8
        var runStart = utf8.startIndex
        var index = runStart
        while index != utf8.endIndex {
            let byte = utf8[index]
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte < 0x20 {
                buffer.writeBytes(utf8[runStart..<index])
                writeEscaped(byte, into: &buffer)
                runStart = utf8.index(after: index)
            }
            index = utf8.index(after: index)
        }
        buffer.writeBytes(utf8[runStart..<utf8.endIndex])
        buffer.writeInteger(UInt8(ascii: "\""))
    }

    private static func writeEscaped(_ byte: UInt8, into buffer: inout ByteBuffer) {
        switch byte {
        case UInt8(ascii: "\""): buffer.writeStaticString("\\\"")
        case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
        case UInt8(ascii: "\n"): buffer.writeStaticString("\\n")
        case UInt8(ascii: "\r"): buffer.writeStaticString("\\r")
        case UInt8(ascii: "\t"): buffer.writeStaticString("\\t")
        default:
            buffer.writeStaticString("\\u00")
            buffer.writeInteger(hexDigit(byte >> 4))
            buffer.writeInteger(hexDigit(byte & 0xF))
        }
    }

    private static func hexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "a") + value - 10
    }
}
