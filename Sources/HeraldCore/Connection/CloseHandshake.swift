import NIOCore

/// RFC 6455's closing handshake for one connection, as a value: who closed first, with which
/// code, and what is left to do. No I/O.
struct CloseHandshake: Sendable {
    enum Phase: Equatable, Sendable {
        case open
        /// A close frame was sent (ours, or the answer to the client's); the socket closes next.
        case closing
        /// The socket has closed.
        case closed
    }

    private(set) var phase = Phase.open
    /// The close code sent or received first; nil when the socket just dropped.
    private(set) var closeCode: UInt16?

    /// The server closes with `reason`: the close frame to send, nil when a close has begun already.
    mutating func close(_ reason: CloseReason) -> WireFrame? {
        guard phase == .open else { return nil }
        phase = .closing
        closeCode = reason.code
        return .close(reason)
    }

    /// The client's close frame: the close frame that answers it — a valid one with its own code
    /// (none for an empty one, recorded as 1005), an invalid one (a code RFC 6455 §7.4 does not
    /// allow, a 1-byte payload, a reason that is not UTF-8) with 1002 or 1007. Nil when the
    /// server had closed first: the handshake is complete.
    mutating func closeReceived(_ payload: ByteBuffer) -> WireFrame? {
        guard phase == .open else { return nil }
        phase = .closing
        switch ClientClose.read(payload.readableBytesView) {
        case .invalid(let reason):
            closeCode = reason.code
            return .close(reason)
        case .valid(let close):
            var echo = ByteBuffer()
            if let code = close.code { echo.writeInteger(code) }
            closeCode = close.code ?? 1005
            return WireFrame(.close, payload: echo)
        }
    }

    /// The socket closed: the code the connection ended with (1006 when no close frame was sent or received).
    mutating func socketClosed() -> UInt16 {
        phase = .closed
        return closeCode ?? 1006
    }
}
