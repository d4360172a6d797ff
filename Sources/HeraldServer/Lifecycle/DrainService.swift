import HeraldCore
import HeraldTokens
import Logging
import ServiceLifecycle

/// On graceful shutdown (SIGTERM/SIGINT), before the HTTP server stops: `/ready` turns false and
/// new upgrades get `503 draining`, every client is sent `1001`, and it waits (at most the drain
/// timeout) for the clients to go; the sockets of clients still there are then closed.
struct DrainService: Service {
    let lifecycle: Lifecycle
    let hub: Hub
    let directory: ConnectionDirectory
    let timeout: Duration
    let logger: Logger

    func run() async throws {
        // Returns when graceful shutdown begins; throws only if cancelled, when there is nothing to drain.
        try await gracefulShutdown()
        lifecycle.startDraining()
        logger.info("Draining", metadata: ["herald.connections": "\(hub.connections)"])
        let deadline = ContinuousClock.now + timeout
        // Once: the hub closes a client admitted from now on as soon as it registers. (Asking
        // every connection again while they close kept a draining node's loops busy.)
        hub.closeAll(.goingAway)
        while hub.connections > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        let remaining = directory.connections(of: nil)
        for connection in remaining { connection.abort() }
        logger.info("Drained", metadata: ["herald.connections.closed.unanswered": "\(remaining.count)"])
    }
}
