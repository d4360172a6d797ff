import HeraldCore
import HeraldTokens
import NIOCore
import NIOWebSocket

/// Subscriptions the application's authorisation hook must allow: asked off the event loop,
/// answered on it, with the connection's later messages held meanwhile so replies keep their order.
extension WebSocketConnection {
    /// Holds a data frame that arrived while a subscribe waits for the hook (reading is paused, so few do).
    func hold(_ frame: WebSocketFrame) {
        guard held.count < 1_024 else { return close(.policyViolation) }
        held.append(frame)
    }

    /// Asks the hook about `request.askHook` (the entities the connection has room for that only
    /// the hook can allow and it has no fresh answer for), then subscribes; meanwhile the
    /// connection's later messages wait. The calls are bounded per connection and per node
    /// (`AuthorisationHook`), and cancelled when the connection closes.
    func authorise(_ request: Session.SubscribeRequest) {
        guard let hook = settings.hook else { return }
        waitingForHook = true
        try? context?.channel.syncOptions?.setOption(.autoRead, value: false)
        let (user, connection) = (identity.userID, connectionID)
        hookCalls = Task {
            let answers = await hook.answers(for: request.askHook, user: user, connection: connection)
            self.eventLoop.execute { self.hookAnswered(request, answers: answers) }
        }
    }

    private func hookAnswered(_ request: Session.SubscribeRequest, answers: [EntityID: Bool]) {
        hookCalls = nil
        waitingForHook = false
        guard case .open = state, let session else { return }
        session.hookAnswered(request, answers: answers)
        try? context?.channel.syncOptions?.setOption(.autoRead, value: true)
        // What arrived meanwhile, in order, until a message waits for the hook again.
        while !waitingForHook, !held.isEmpty { handle(held.removeFirst()) }
    }
}
