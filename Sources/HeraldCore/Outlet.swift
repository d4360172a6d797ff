public import NIOCore

/// Where one connection's frames go: a socket owned by one event loop.
///
/// The hub groups outlets by event loop and hands each loop its deliveries in batches; `write`,
/// `flush` and `close` are therefore only ever called on `eventLoop`, and never wait.
public protocol Outlet: AnyObject, Sendable {
    var connectionID: ConnectionID { get }
    /// The event loop that owns the socket; `write`, `flush` and `close` run on it.
    var eventLoop: any EventLoop { get }
    /// Queues one pre-encoded frame (on `eventLoop`). A connection that is closing drops it.
    func write(_ frame: WireFrame)
    /// Hands what was queued to the socket (on `eventLoop`).
    func flush()
    /// Starts the closing handshake with `reason` after what is already written (on `eventLoop`).
    func close(_ reason: CloseReason)
}

extension Outlet {
    /// Writes and flushes one frame (on `eventLoop`).
    public func send(_ frame: WireFrame) {
        write(frame)
        flush()
    }
}
