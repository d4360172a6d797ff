import Foundation
import HeraldCore
import HeraldTokens
import NIOCore

/// What the admin and `@connections` APIs do to a connection, each run on its event loop.
extension WebSocketConnection {
    /// The connection as it is now.
    func snapshot() async throws -> ConnectionSnapshot {
        try await eventLoop.submit { [self] in
            ConnectionSnapshot(
                connectionID: connectionID,
                userID: userID,
                peer: peer,
                lastActiveAt: lastActiveAt,
                subscriptions: session?.subscriptions.count ?? 0
            )
        }.get()
    }

    /// Sends `text` verbatim as one text frame; false when the connection is already closing.
    func post(_ text: ByteBuffer) async throws -> Bool {
        try await eventLoop.submit { [self] in
            guard case .open = state else { return false }
            send(WireFrame(.text, payload: text))
            return true
        }.get()
    }

    /// Closes the connection with 4003 "disconnected by admin"; false when it was already closing.
    func disconnect() async throws -> Bool {
        try await eventLoop.submit { [self] in
            guard case .open = state else { return false }
            close(.disconnectedByAdmin)
            return true
        }.get()
    }

    /// Closes the socket without waiting for the closing handshake (a drain that ran out of time).
    func abort() {
        eventLoop.execute { [self] in context?.close(promise: nil) }
    }
}
