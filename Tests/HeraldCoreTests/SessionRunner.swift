import HeraldCore
import Synchronization

/// Runs a `SessionStateMachine`'s actions against a hub, a broker and an outlet, as a transport
/// does (the server's `ConnectionHandler` for real): for the Core tests of subscribe, resume and
/// forgetting through the broker. (Behind a lock, so a test may hand it to another event loop.)
final class SessionRunner: Sendable {
    private let machine: Mutex<SessionStateMachine>
    let outlet: RecordingOutlet
    private let hub: Hub
    private let broker: any Broker

    init(
        userID: UserID = UserID("u")!,
        outlet: RecordingOutlet,
        hub: Hub,
        broker: any Broker,
        maxSubscriptions: Int,
        allowedEntities: EntityPatterns? = nil,
        asksHook: Bool = false
    ) {
        machine = Mutex(
            SessionStateMachine(userID: userID, maxSubscriptions: maxSubscriptions, allowedEntities: allowedEntities, asksHook: asksHook)
        )
        self.outlet = outlet
        self.hub = hub
        self.broker = broker
        hub.connect(outlet, user: userID)
    }

    var subscriptions: Set<EntityID> { machine.withLock { $0.subscriptions } }

    /// Handles one text message; returns the questions it left for outside (`verifyToken`, `askHook`).
    @discardableResult
    func receive(text: String) -> [SessionStateMachine.Action] {
        run(machine.withLock { $0.textReceived(Array(text.utf8), now: 0) })
    }

    @discardableResult
    func hookAnswered(_ answers: [EntityID: Bool]) -> [SessionStateMachine.Action] {
        run(machine.withLock { $0.hookAnswered(answers, now: 0) })
    }

    /// The connection ended: its subscriptions and its registration go.
    func end() {
        let (user, subscriptions) = machine.withLock { ($0.userID, $0.subscriptions) }
        broker.unsubscribe(outlet, from: Array(subscriptions))
        hub.disconnect(outlet, user: user)
    }

    private func run(_ actions: [SessionStateMachine.Action]) -> [SessionStateMachine.Action] {
        var questions: [SessionStateMachine.Action] = []
        for action in actions {
            switch action {
            case .write(let frame):
                outlet.send(frame)
            case .subscribe(let order):
                let replay = broker.subscribe(outlet, to: order.entity, since: order.since, epoch: order.epoch)
                for answer in machine.withLock({ $0.subscribed(order, replay) }) {
                    if case .write(let frame) = answer { outlet.write(frame) }
                }
                outlet.flush()
            case .unsubscribe(let entities):
                broker.unsubscribe(outlet, from: entities)
            case .verifyToken, .askHook, .tokenReplaced:
                questions.append(action)
            }
        }
        return questions
    }
}
