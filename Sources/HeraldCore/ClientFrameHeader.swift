/// The header bits of one frame a client sent, and what RFC 6455 demands of them beyond what
/// NIOWebSocket's decoder checks (it refuses bad lengths, fragmented control frames and control
/// payloads over 125 bytes, and its aggregator bad continuation sequences).
///
/// Every client frame is masked (§5.1), sets no RSV bit (§5.2: Herald negotiates no extension),
/// and has a defined opcode (§5.2: 3–7 and 0xB–0xF are reserved). A frame that breaks one of
/// these fails the connection with `1002`.
public struct ClientFrameHeader: Equatable, Sendable {
    /// The 4-bit opcode.
    public var opcode: UInt8
    /// RSV1, RSV2 and RSV3 as the three low bits (RSV1 highest).
    public var reservedBits: UInt8
    public var isMasked: Bool

    public init(opcode: UInt8, reservedBits: UInt8, isMasked: Bool) {
        self.opcode = opcode
        self.reservedBits = reservedBits
        self.isMasked = isMasked
    }

    /// The opcodes RFC 6455 defines: continuation, text, binary, close, ping, pong.
    public static let definedOpcodes: Set<UInt8> = [0x0, 0x1, 0x2, 0x8, 0x9, 0xA]

    /// The `1002` close this frame earns, or nil when it keeps the rules.
    public var violation: CloseReason? {
        if !Self.definedOpcodes.contains(opcode) { return .protocolError("reserved opcode \(opcode)") }
        if reservedBits != 0 { return .protocolError("RSV bits set without an extension") }
        if !isMasked { return .protocolError("client frames must be masked") }
        return nil
    }
}

extension CloseReason {
    /// 1002 with what exactly broke the protocol.
    public static func protocolError(_ detail: String) -> CloseReason {
        CloseReason(code: 1002, text: "protocol error: \(detail)")
    }
}
