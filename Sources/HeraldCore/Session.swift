import NIOCore
import Synchronization

/// One authenticated connection as the domain sees it: who it is, what it subscribed to,
/// and the outlet its frames go through. The transport feeds it client frames on the
/// outlet's event loop; everything between a frame in and the frames out happens here.
public final class Session: Sendable {
    public let userID: UserID
    /// The connection's socket; it owns this session, hence `unowned`.
    public unowned let outlet: any Outlet
    private let hub: Hub
    private let broker: any Broker
    private let machine: Mutex<SessionStateMachine>

    /// Creates the session and registers its outlet with the hub under `userID`.
    /// - Parameters:
    ///   - allowedEntities: what the token's claim allows when claim authorisation is on (nil: off).
    ///   - asksHook: whether the application's authorisation hook decides what the claim does not allow.
    public init(
        userID: UserID, outlet: any Outlet, hub: Hub, broker: any Broker, maxSubscriptions: Int,
        allowedEntities: EntityPatterns? = nil, asksHook: Bool = false
    ) {
        self.userID = userID
        self.outlet = outlet
        self.hub = hub
        self.broker = broker
        machine = Mutex(SessionStateMachine(maxSubscriptions: maxSubscriptions, allowedEntities: allowedEntities, asksHook: asksHook))
        hub.connect(outlet, user: userID)
    }

    public var connectionID: ConnectionID { outlet.connectionID }

    /// The entities this connection is subscribed to.
    public var subscriptions: Set<EntityID> { machine.withLock { $0.subscriptions } }

    /// Handles one text frame (on the outlet's event loop); replies go to the outlet. Returns what
    /// the transport must do first when the message needs it (verify a token, ask the hook).
    public func receive(text bytes: some Collection<UInt8>) -> Followup? {
        switch ClientMessage.decode(bytes) {
        case .failure(let error):
            reply(error)
        case .success(let message):
            switch message.action {
            case .subscribe(let entities, let since, let epoch):
                let resume = since.map { SubscribeRequest.Resume(since: $0, epoch: epoch) }
                var request = SubscribeRequest(entities: entities, resume: resume, requestID: message.requestID)
                request.askHook = machine.withLock { machine in
                    var seen = Set<EntityID>()
                    return entities.filter { machine.needsHook($0) && seen.insert($0).inserted }
                }
                if !request.askHook.isEmpty { return .authorise(request) }
                subscribe(request, approved: [])
            case .unsubscribe(let entities):
                for entity in entities { unsubscribe(entity, requestID: message.requestID) }
            case .ping:
                outlet.send(Push.pong(requestID: message.requestID))
            case .refresh(let token):
                return .refresh(RefreshRequest(token: token, requestID: message.requestID))
            }
        }
        return nil
    }

    /// Handles a binary frame: not part of the protocol, answered with `unsupported_frame`.
    public func receiveBinary() {
        reply(ProtocolError(.unsupportedFrame, "binary frames are not supported; send JSON text frames"))
    }

    /// A `refresh` was accepted: later subscriptions are checked against the new token's entities.
    public func tokenRefreshed(allowedEntities: EntityPatterns?) {
        machine.withLock { $0.tokenRefreshed(allowedEntities: allowedEntities) }
    }

    /// Sends an error frame.
    public func reply(_ error: ProtocolError) {
        outlet.send(Push.error(error))
    }

    /// Removes the connection and its subscriptions (through the broker, which forgets entities
    /// nobody holds any more). Call once, when the connection ends.
    public func end() {
        broker.unsubscribe(outlet, from: Array(subscriptions))
        hub.disconnect(outlet, user: userID)
    }

    /// Subscribes to each entity of `request` in order, answering each; `approved` holds the
    /// entities the authorisation hook allowed (those it was asked about and refused are forbidden).
    public func subscribe(_ request: SubscribeRequest, approved: Set<EntityID>) {
        for entity in request.entities {
            subscribe(entity, resume: request.resume, requestID: request.requestID, approvedByHook: approved.contains(entity))
        }
    }

    private func subscribe(_ entity: EntityID, resume: SubscribeRequest.Resume?, requestID: JSONValue?, approvedByHook: Bool) {
        switch machine.withLock({ $0.subscribeRequested(entity, approvedByHook: approvedByHook) }) {
        case .subscribe:
            // The broker judges `since` against the entity's stream under its lock (its epoch included).
            let replay = broker.subscribe(outlet, to: entity, since: resume?.since, epoch: resume?.epoch)
            // Ack, then the missed events, all before any live push (those wait for this turn of the event loop).
            outlet.write(Push.subscribed(entity, recovered: replay.recovered, epoch: replay.epoch, requestID: requestID))
            for frame in replay.frames { outlet.write(frame) }
            outlet.flush()
        case .acknowledge:
            // Already live on this connection: nothing was missed since it subscribed.
            let epoch = broker.subscribe(outlet, to: entity, since: nil, epoch: nil).epoch
            outlet.send(Push.subscribed(entity, recovered: true, epoch: epoch, requestID: requestID))
        case .refuse(let code):
            reply(ProtocolError(code, refusal(code, entity: entity), requestID: requestID))
        }
    }

    private func unsubscribe(_ entity: EntityID, requestID: JSONValue?) {
        if machine.withLock({ $0.unsubscribeRequested(entity) }) {
            broker.unsubscribe(outlet, from: [entity])
        }
        outlet.send(Push.unsubscribed(entity, requestID: requestID))
    }

    private func refusal(_ code: ErrorCode, entity: EntityID) -> String {
        switch code {
        case .subscriptionLimit:
            "limit of \(machine.withLock { $0.maxSubscriptions }) subscriptions reached; unsubscribe from something first"
        case .forbidden:
            "this token does not allow subscribing to \(entity)"
        default:
            "subscription to \(entity) refused"
        }
    }
}
