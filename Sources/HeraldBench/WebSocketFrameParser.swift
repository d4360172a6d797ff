import NIOCore

/// One WebSocket frame as the server sent it, payload unmasked.
struct ServerFrame {
    /// RFC 6455 opcodes the generator cares about.
    enum Opcode: UInt8 {
        case continuation = 0x0
        case text = 0x1
        case binary = 0x2
        case close = 0x8
        case ping = 0x9
        case pong = 0xA
    }

    var fin: Bool
    var opcode: Opcode
    /// A slice of the receive buffer (no copy) unless the server masked it.
    var payload: ByteBuffer
}

/// Minimal RFC 6455 framing for the client side: reads the server's frames straight out of the
/// receive buffer, and writes masked client frames. Written for the generator's hot path — no
/// per-frame allocation, no pipeline hop per frame — instead of NIOWebSocket's decoder, whose
/// `WebSocketFrame` allocates storage for every frame.
enum WebSocketFrameParser {
    /// Frames larger than this are a protocol error for the generator (pushes are small).
    static let maxPayloadBytes = 16 << 20

    /// Removes one complete frame from the front of `buffer`; nil (buffer untouched) when the
    /// buffer holds only part of one.
    static func next(from buffer: inout ByteBuffer) throws(BenchError) -> ServerFrame? {
        let start = buffer.readerIndex
        guard let first = buffer.getInteger(at: start, as: UInt8.self),
            let second = buffer.getInteger(at: start + 1, as: UInt8.self)
        else { return nil }
        guard first & 0x70 == 0 else { throw BenchError(.protocolViolation, "reserved bits set in a server frame") }
        guard let opcode = ServerFrame.Opcode(rawValue: first & 0x0F) else {
            throw BenchError(.protocolViolation, "unknown WebSocket opcode \(first & 0x0F)")
        }
        let fin = first & 0x80 != 0
        let masked = second & 0x80 != 0
        var headerBytes = 2
        var length: UInt64
        switch second & 0x7F {
        case 126:
            guard let extended = buffer.getInteger(at: start + 2, as: UInt16.self) else { return nil }
            length = UInt64(extended)
            headerBytes += 2
        case 127:
            guard let extended = buffer.getInteger(at: start + 2, as: UInt64.self) else { return nil }
            length = extended
            headerBytes += 8
        case let short:
            length = UInt64(short)
        }
        guard length <= UInt64(maxPayloadBytes) else {
            throw BenchError(.protocolViolation, "server frame of \(length) bytes exceeds \(maxPayloadBytes)")
        }
        if opcode.rawValue >= 0x8, !fin || length > 125 {
            throw BenchError(.protocolViolation, "fragmented or oversized control frame")
        }
        var maskKey: (UInt8, UInt8, UInt8, UInt8)?
        if masked {
            guard let bytes = buffer.getBytes(at: start + headerBytes, length: 4) else { return nil }
            maskKey = (bytes[0], bytes[1], bytes[2], bytes[3])
            headerBytes += 4
        }
        let total = headerBytes + Int(length)
        guard buffer.readableBytes >= total else { return nil }
        buffer.moveReaderIndex(forwardBy: headerBytes)
        var payload = buffer.readSlice(length: Int(length))!
        if let maskKey {
            // Servers must not mask; tolerate it anyway by unmasking into a copy.
            var bytes = payload.readBytes(length: payload.readableBytes)!
            let key = [maskKey.0, maskKey.1, maskKey.2, maskKey.3]
            for index in bytes.indices { bytes[index] ^= key[index & 3] }
            payload = ByteBuffer(bytes: bytes)
        }
        return ServerFrame(fin: fin, opcode: opcode, payload: payload)
    }

    /// Appends a masked client frame (fin set) carrying `payload` to `buffer`.
    static func writeClientFrame(
        opcode: ServerFrame.Opcode,
        payload: some Collection<UInt8>,
        maskKey: UInt32,
        into buffer: inout ByteBuffer
    ) {
        let count = payload.count
        buffer.writeInteger(0x80 | opcode.rawValue)
        switch count {
        case ..<126:
            buffer.writeInteger(UInt8(0x80 | count))
        case ..<65536:
            buffer.writeInteger(UInt8(0x80 | 126))
            buffer.writeInteger(UInt16(count))
        default:
            buffer.writeInteger(UInt8(0x80 | 127))
            buffer.writeInteger(UInt64(count))
        }
        buffer.writeInteger(maskKey)
        let key = [UInt8(maskKey >> 24), UInt8((maskKey >> 16) & 0xFF), UInt8((maskKey >> 8) & 0xFF), UInt8(maskKey & 0xFF)]
        var position = 0
        for byte in payload {
            buffer.writeInteger(byte ^ key[position & 3])
            position += 1
        }
    }

    /// A close frame payload: the code, big-endian, then the reason.
    static func closePayload(code: UInt16, reason: String = "") -> [UInt8] {
        [UInt8(code >> 8), UInt8(code & 0xFF)] + Array(reason.utf8)
    }

    /// The close code in a close frame's payload, if it has one.
    static func closeCode(_ payload: ByteBuffer) -> UInt16? {
        payload.getInteger(at: payload.readerIndex, as: UInt16.self)
    }
}
