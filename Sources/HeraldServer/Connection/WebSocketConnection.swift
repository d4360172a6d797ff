import Foundation
import HeraldCore
import HeraldTokens
import Logging
import NIOCore

/// One upgraded WebSocket connection as the rest of the server holds it: the hub's and the
/// broker's `Outlet`, and what the admin and `@connections` APIs find in the `ConnectionDirectory`.
/// It is `Sendable` and keeps no state of its own: each call reaches the connection's
/// `ConnectionHandler` on the connection's event loop — a fan-out's writes directly (the
/// loop's `DeliveryQueue` calls them there), the admin API's through `submit`.
final class WebSocketConnection: Outlet {
    /// What every connection shares.
    struct Settings: Sendable {
        let hub: Hub
        let broker: any Broker
        /// Where refused messages (`message.rate_limited`) and abuse closes (`close.1008`) are counted.
        let refusals: Refusals
        let verifier: TokenVerifier
        /// Clock skew allowed on `exp`: a connection is closed at `exp` + leeway.
        let tokenLeeway: Duration
        let limits: HeraldConfiguration.Limits
        /// The application's authorisation hook, with `--subscription-auth hook` or `claims+hook`.
        let hook: AuthorisationHook?
        let metrics: HeraldMetrics
        /// Where the admin and `@connections` APIs find this connection.
        let directory: ConnectionDirectory
        let logger: Logger
        /// The wall clock, in epoch seconds (token expiry, `lastActiveAt`); the monotonic one is the event loop's.
        var wallClock: @Sendable () -> Double = { Date().timeIntervalSince1970 }

        /// The limits that shape each connection's state machine.
        var machine: ConnectionStateMachine.Configuration {
            ConnectionStateMachine.Configuration(
                maxMessagesPerSecond: limits.maxMessagesPerSecond,
                pingInterval: limits.pingInterval,
                idleTimeout: limits.idleTimeout,
                closeTimeout: limits.closeTimeout,
                maxLifetime: limits.maxConnectionLifetime,
                tokenLeeway: tokenLeeway
            )
        }
    }

    /// Where the connection comes from, as the admin and `@connections` APIs show it.
    struct Peer: Sendable {
        var sourceIP: String
        var userAgent: String?
        var connectedAt = Date()
    }

    let connectionID = ConnectionID.next()
    let eventLoop: any EventLoop
    let peer: Peer
    /// Counts the pushes that arrive once the handler is gone.
    private let metrics: HeraldMetrics
    /// The connection's handler, from its upgrade until its socket closes.
    let handler: NIOLoopBoundBox<ConnectionHandler?>

    init(peer: Peer, eventLoop: any EventLoop, metrics: HeraldMetrics) {
        self.peer = peer
        self.eventLoop = eventLoop
        self.metrics = metrics
        handler = .makeEmptyBox(valueType: ConnectionHandler.self, eventLoop: eventLoop)
    }

    /// The handler takes the connection over (on the event loop).
    func attach(_ handler: ConnectionHandler) {
        self.handler.value = handler
    }

    /// The socket closed: calls reach nothing any more (on the event loop).
    func detach() {
        handler.value = nil
    }

    // MARK: Outlet (on the event loop)

    func write(_ frame: WireFrame) {
        guard let handler = handler.value else { return metrics.pushDropped() }
        handler.push(frame)
    }

    func flush() {
        handler.value?.flushPushes()
    }

    func close(_ reason: CloseReason) {
        handler.value?.handle(.closeRequested(reason))
    }
}
