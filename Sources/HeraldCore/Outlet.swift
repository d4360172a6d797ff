public import NIOCore

/// Where one connection's frames go: a socket owned by one event loop.
///
/// The hub groups outlets by event loop and hands each loop one batch per push; `send` and
/// `close` are therefore only ever called on `eventLoop`, and never wait.
public protocol Outlet: AnyObject, Sendable {
    var connectionID: ConnectionID { get }
    /// The event loop that owns the socket; `send` and `close` run on it.
    var eventLoop: any EventLoop { get }
    /// Writes one pre-encoded frame (on `eventLoop`). A connection that is closing drops it.
    func send(_ frame: WireFrame)
    /// Starts the closing handshake with `reason` after what is already written (on `eventLoop`).
    func close(_ reason: CloseReason)
}
