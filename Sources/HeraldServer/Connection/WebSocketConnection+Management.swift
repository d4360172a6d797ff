import HeraldCore
import HeraldTokens
import NIOCore

/// What the admin and `@connections` APIs do to a connection, each run on its event loop.
extension WebSocketConnection {
    /// The connection as it is now; throws once its socket has closed.
    func snapshot() async throws -> ConnectionSnapshot {
        let handler = self.handler
        return try await eventLoop.submit { [connectionID, peer] in
            guard let handler = handler.value else { throw ChannelError.ioOnClosedChannel }
            return ConnectionSnapshot(
                connectionID: connectionID,
                userID: handler.userID,
                peer: peer,
                lastActiveAt: handler.lastActiveAt,
                subscriptions: handler.subscriptionCount
            )
        }.get()
    }

    /// Sends `text` verbatim as one text frame; false when the connection is already closing.
    func post(_ text: ByteBuffer) async throws -> Bool {
        let handler = self.handler
        return try await eventLoop.submit {
            guard let handler = handler.value, handler.isOpen else { return false }
            handler.handle(.postRequested(WireFrame(.text, payload: text)))
            return true
        }.get()
    }

    /// Closes the connection with 4003 "disconnected by admin"; false when it was already closing.
    func disconnect() async throws -> Bool {
        let handler = self.handler
        return try await eventLoop.submit {
            guard let handler = handler.value, handler.isOpen else { return false }
            handler.handle(.closeRequested(.disconnectedByAdmin))
            return true
        }.get()
    }

    /// Closes the socket without waiting for the closing handshake (a drain that ran out of time).
    func abort() {
        let handler = self.handler
        eventLoop.execute { handler.value?.handle(.abortRequested) }
    }
}
