import HeraldCore
import HeraldTokens
import NIOCore
import NIOWebSocket

/// Subscriptions the application's authorisation hook must allow: asked off the event loop,
/// answered on it, with the connection's later messages held meanwhile so replies keep their order.
extension WebSocketConnection {
    /// Holds a data frame that arrived while a subscribe waits for the hook (reading is paused, so few do).
    func hold(_ frame: WebSocketFrame) {
        guard held.count < 1_024 else { return fail(.policyViolation) }
        held.append(frame)
    }

    /// Asks the hook about the entities only it can allow (unless this connection has a fresh answer),
    /// then subscribes; meanwhile the connection's later messages wait.
    func authorise(_ request: Session.SubscribeRequest) {
        guard let hook = settings.hook, let session else { return }
        let now = NIODeadline.now()
        var approved = Set<EntityID>()
        var unanswered: [EntityID] = []
        for entity in request.askHook {
            if let answer = hookAnswers[entity], answer.until > now {
                if answer.allowed { approved.insert(entity) }
            } else {
                unanswered.append(entity)
            }
        }
        if unanswered.isEmpty { return session.subscribe(request, approved: approved) }
        waitingForHook = true
        try? context?.channel.syncOptions?.setOption(.autoRead, value: false)
        let (user, connection, cached) = (identity.userID, connectionID, approved)
        Task {
            let answers = await withTaskGroup(of: (EntityID, Bool).self) { group in
                for entity in unanswered { group.addTask { (entity, await hook.allows(user: user, entity: entity, connection: connection)) } }
                return await group.reduce(into: [(EntityID, Bool)]()) { $0.append($1) }
            }
            self.eventLoop.execute { self.hookAnswered(request, answers: answers, approved: cached) }
        }
    }

    private func hookAnswered(_ request: Session.SubscribeRequest, answers: [(EntityID, Bool)], approved: Set<EntityID>) {
        guard let hook = settings.hook else { return }
        let now = NIODeadline.now()
        if hookAnswers.count > 4 * settings.limits.maxSubscriptions { hookAnswers = hookAnswers.filter { $0.value.until > now } }
        var approved = approved
        for (entity, allowed) in answers {
            hookAnswers[entity] = (allowed, now + TimeAmount(hook.cacheTTL))
            if allowed { approved.insert(entity) }
        }
        waitingForHook = false
        guard case .open = state, let session else { return }
        session.subscribe(request, approved: approved)
        try? context?.channel.syncOptions?.setOption(.autoRead, value: true)
        // What arrived meanwhile, in order, until a message waits for the hook again.
        while !waitingForHook, !held.isEmpty { handle(held.removeFirst()) }
    }
}
