public import NIOCore

extension ConnectionStateMachine {
    /// What happened to the connection (each handed to `handle(_:at:)` with the moment it happened).
    public enum Event: Equatable, Sendable {
        /// The upgraded connection is in place: its deadlines start.
        case started
        /// A text message (reassembled, unmasked); not yet checked to be UTF-8.
        case textReceived(ByteBuffer)
        case binaryReceived
        /// A WebSocket ping and its payload.
        case pingReceived(ByteBuffer)
        case pongReceived
        /// The client's close frame and its payload.
        case closeReceived(ByteBuffer)
        /// A deadline set by `setDeadline` was reached.
        case deadlineReached(Deadline)
        /// The token of a `refresh` (`verifyToken`) verified.
        case tokenVerified(userID: UserID, expiresAt: Int, allowedEntities: EntityPatterns?)
        /// The token of a `refresh` failed its checks: `token_expired` or `token_invalid`, and why.
        case tokenRefused(ErrorCode, String)
        /// The authorisation hook's answers to `askHook`.
        case hookAnswered([EntityID: Bool])
        /// The broker registered a `subscribe` and found what it missed.
        case subscribed(SessionStateMachine.SubscribeOrder, Replay)
        /// The server closes the connection: draining (`1001`), an administrator (`4003`).
        case closeRequested(CloseReason)
        /// A backend posts a frame to this connection (`@connections`).
        case postRequested(WireFrame)
        /// More than the outbound buffer waits for a client that does not read fast enough.
        case writabilityLost
        /// The client shut down its side (half-close): it can send nothing more, not even a close frame.
        case inputClosed
        /// The client's input broke RFC 6455 (or the size limit): closed with the code it earns.
        case inputBroken(CloseReason)
        /// The socket failed (an I/O error): nothing more can be said on it.
        case failed
        /// The server gives up on the connection (a drain that ran out of time): the socket closes now.
        case abortRequested
        /// The socket closed.
        case socketClosed
    }

    /// The connection's timers (one of each at most).
    public enum Deadline: Hashable, Sendable, CaseIterable {
        /// The token's `exp` + leeway: `4001` (or one more day's wait for a far `exp`).
        case tokenExpiry
        /// `--max-connection-lifetime`: `4002`.
        case lifetime
        /// When to look whether the client was heard within the last `--ping-interval` (ping it,
        /// or close it at the idle timeout).
        case ping
        /// How long a close frame the server sent waits for the client's before the socket closes.
        case closeTimeout
    }
}
