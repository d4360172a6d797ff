import HummingbirdCore
import Logging
import NIOCore

/// Wraps a child channel's setup (Herald's HTTP/WebSocket pipeline, with or without TLS) so that
/// every accepted connection is first admitted against `--max-pending-connections` — past it the
/// socket is closed at once and counted (`herald_shed_connections_total{reason="pending_limit"}`) —
/// and then gets a `ConnectionDeadlineHandler` as the first handler of its pipeline, before TLS.
struct GuardedChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value

    let base: Base
    let pending: PendingConnections
    let timeouts: ConnectionDeadline.Timeouts
    let metrics: HeraldMetrics

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        guard pending.admit() else {
            metrics.shed(.pendingLimit)
            channel.close(promise: nil)
            // A failed setup is dropped by the server: no task is started for the connection.
            return channel.eventLoop.makeFailedFuture(ChannelError.ioOnClosedChannel)
        }
        do {
            let deadline = ConnectionDeadlineHandler(timeouts: timeouts, pending: pending, metrics: metrics, logger: logger)
            try channel.pipeline.syncOperations.addHandler(deadline, position: .first)
        } catch {
            pending.release()
            channel.close(promise: nil)
            return channel.eventLoop.makeFailedFuture(error)
        }
        return base.setup(channel: channel, logger: logger)
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}
