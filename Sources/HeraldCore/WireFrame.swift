public import NIOCore

/// A server WebSocket frame (RFC 6455 §5.2: FIN set, unmasked, no extensions) encoded once.
///
/// `bytes` is what every recipient's socket is given — header and payload in one buffer — so a
/// fan-out writes the same storage to each subscriber and never encodes per connection.
public struct WireFrame: Equatable, Sendable {
    /// The frame types a Herald server sends.
    public enum Opcode: UInt8, Sendable {
        case text = 0x1
        case close = 0x8
        case ping = 0x9
        case pong = 0xA
    }

    /// Header and payload, ready for the socket.
    public let bytes: ByteBuffer
    /// The payload alone (a view of `bytes`, no copy).
    public let payload: ByteBuffer

    public init(_ opcode: Opcode, payload: ByteBuffer) {
        let length = payload.readableBytes
        var bytes = ByteBufferAllocator().buffer(capacity: 10 + length)
        bytes.writeInteger(0x80 | opcode.rawValue)
        switch length {
        case 0...125:
            bytes.writeInteger(UInt8(length))
        case 126...0xFFFF:
            bytes.writeInteger(UInt8(126))
            bytes.writeInteger(UInt16(length))
        default:
            bytes.writeInteger(UInt8(127))
            bytes.writeInteger(UInt64(length))
        }
        let headerLength = bytes.writerIndex
        bytes.writeImmutableBuffer(payload)
        self.bytes = bytes
        self.payload = bytes.getSlice(at: headerLength, length: length)!
    }

    /// A text frame carrying `payload` (UTF-8 JSON for every push Herald sends).
    public static func text(_ payload: ByteBuffer) -> WireFrame {
        WireFrame(.text, payload: payload)
    }

    /// A close frame: the code, then the reason cut to the 123 bytes a control frame leaves for it.
    public static func close(_ reason: CloseReason) -> WireFrame {
        var payload = ByteBufferAllocator().buffer(capacity: 125)
        payload.writeInteger(reason.code)
        payload.writeBytes(reason.text.utf8.prefix(123))
        return WireFrame(.close, payload: payload)
    }
}
