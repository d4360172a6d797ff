import NIOCore
import Synchronization

/// One authenticated connection as the domain sees it: who it is, what it subscribed to,
/// and the outlet its frames go through. The transport feeds it client frames on the
/// outlet's event loop; everything between a frame in and the frames out happens here.
public final class Session: Sendable {
    /// A `refresh` the transport must verify (token checks live outside the core).
    public struct RefreshRequest: Equatable, Sendable {
        public var token: String
        public var requestID: JSONValue?

        public init(token: String, requestID: JSONValue?) {
            self.token = token
            self.requestID = requestID
        }
    }

    public let userID: UserID
    /// The connection's socket; it owns this session, hence `unowned`.
    public unowned let outlet: any Outlet
    private let hub: Hub
    private let machine: Mutex<SessionStateMachine>

    /// Creates the session and registers its outlet with the hub under `userID`.
    public init(userID: UserID, outlet: any Outlet, hub: Hub, maxSubscriptions: Int) {
        self.userID = userID
        self.outlet = outlet
        self.hub = hub
        machine = Mutex(SessionStateMachine(maxSubscriptions: maxSubscriptions))
        hub.connect(outlet, user: userID)
    }

    public var connectionID: ConnectionID { outlet.connectionID }

    /// The entities this connection is subscribed to.
    public var subscriptions: Set<EntityID> { machine.withLock { $0.subscriptions } }

    /// Handles one text frame (on the outlet's event loop); replies go to the outlet. Returns a refresh for the transport to verify.
    public func receive(text bytes: some Collection<UInt8>) -> RefreshRequest? {
        switch ClientMessage.decode(bytes) {
        case .failure(let error):
            reply(error)
        case .success(let message):
            switch message.action {
            case .subscribe(let entities, let since):
                // Without history nothing missed can be replayed: a resume is acknowledged as not recovered.
                for entity in entities { subscribe(entity, recovered: since == nil, requestID: message.requestID) }
            case .unsubscribe(let entities):
                for entity in entities { unsubscribe(entity, requestID: message.requestID) }
            case .ping:
                outlet.send(Push.pong(requestID: message.requestID))
            case .refresh(let token):
                return RefreshRequest(token: token, requestID: message.requestID)
            }
        }
        return nil
    }

    /// Handles a binary frame: not part of the protocol, answered with `unsupported_frame`.
    public func receiveBinary() {
        reply(ProtocolError(.unsupportedFrame, "binary frames are not supported; send JSON text frames"))
    }

    /// Sends an error frame.
    public func reply(_ error: ProtocolError) {
        outlet.send(Push.error(error))
    }

    /// Removes the connection and its subscriptions from the hub. Call once, when the connection ends.
    public func end() {
        hub.disconnect(outlet, user: userID, subscriptions: subscriptions)
    }

    private func subscribe(_ entity: EntityID, recovered: Bool, requestID: JSONValue?) {
        switch machine.withLock({ $0.subscribeRequested(entity) }) {
        case .subscribe:
            // The ack goes first, so that no push for this entity can overtake it.
            outlet.send(Push.subscribed(entity, recovered: recovered, requestID: requestID))
            hub.subscribe(outlet, to: entity)
        case .acknowledge:
            outlet.send(Push.subscribed(entity, recovered: recovered, requestID: requestID))
        case .refuse(let code):
            reply(ProtocolError(code, refusal(code, entity: entity), requestID: requestID))
        }
    }

    private func unsubscribe(_ entity: EntityID, requestID: JSONValue?) {
        if machine.withLock({ $0.unsubscribeRequested(entity) }) {
            hub.unsubscribe(outlet, from: entity)
        }
        outlet.send(Push.unsubscribed(entity, requestID: requestID))
    }

    private func refusal(_ code: ErrorCode, entity: EntityID) -> String {
        switch code {
        case .subscriptionLimit:
            "limit of \(machine.withLock { $0.maxSubscriptions }) subscriptions reached; unsubscribe from something first"
        default:
            "subscription to \(entity) refused"
        }
    }
}
