/// Accepts published events, keeps each entity's stream, and gets events to every node's hub
/// (PROTOCOL.md §4, PROTOCOL.md §6, OPERATIONS.md §13).
///
/// The in-memory broker delivers to its own hub; a cluster broker appends to shared storage
/// and each node delivers to its local subscribers. Callers see the same contract either way:
/// `publish` returns once the event is accepted and in the history, events of one entity reach
/// each subscriber in `seq` order, and `subscribe` joins a subscriber to the live stream with
/// exactly the events it missed before it: no gap, no duplicate. Each entity's stream has its
/// own epoch, new whenever the stream starts (again): `seq`s of two epochs are unrelated.
public protocol Broker: Sendable {
    /// Accepts events, all or none, and returns each one's id (and `seq` for entity updates),
    /// in order. Throws `BrokerError` with code `.brokerUnavailable` when they could not be
    /// accepted: then none of them was.
    func publish(_ events: [Event]) async throws -> [PublishReceipt]

    /// True when `publishAtOnce` may be called: the broker accepts events without waiting for
    /// anything (the in-memory broker), so a publish can be answered on the event loop it arrived on.
    var acceptsAtOnce: Bool { get }

    /// `publish`, on the caller's thread, for a broker that `acceptsAtOnce`.
    func publishAtOnce(_ events: [Event]) throws -> [PublishReceipt]

    /// Adds `outlet` to the subscribers of `entity` and returns its stream's epoch and what it
    /// missed after `since` (`nil`: a plain subscribe, nothing to replay). `since` with an
    /// `epoch` that is not the stream's is never recovered and replays nothing; without `epoch`,
    /// `since` alone decides.
    ///
    /// Called on the outlet's event loop, which writes the replay before anything else runs on it.
    /// Atomic with respect to this entity's deliveries: every event after the replayed ones is
    /// delivered live, none of the replayed ones is.
    func subscribe(_ outlet: any Outlet, to entity: EntityID, since: Int?, epoch: String?) -> Replay

    /// Removes `outlet` from the subscribers of each of `entities` (unsubscribe, disconnect). An
    /// entity left with no subscriber and no kept event is forgotten.
    func unsubscribe(_ outlet: any Outlet, from entities: [EntityID])

    /// False while the broker cannot accept or deliver events (a cluster broker that lost its
    /// database): `/ready` says so, and publishes are refused.
    var isAvailable: Bool { get }

    /// Frees history that outlived its age limit and forgets the entities it leaves with no
    /// subscriber and no kept event (the server calls this on a timer); returns what it freed.
    @discardableResult
    func evictExpiredHistory() async -> EntityStreams.Sweep

    /// What this node keeps: streams, kept events and their bytes.
    var streamFigures: EntityStreams.Figures { get }

    /// How this node reaches the other nodes of its cluster; nil for a node on its own.
    var cluster: (any ClusterChannel)? { get }
}

extension Broker {
    /// Accepts one event (see `publish(_:)` for a batch).
    public func publish(_ event: Event) async throws -> PublishReceipt {
        guard let receipt = try await publish([event]).first else {
            throw BrokerError(.brokerUnavailable, "the broker gave no receipt")
        }
        return receipt
    }

    /// Always available: nothing outside the process can fail.
    public var isAvailable: Bool { true }
    /// A broker waits for its storage unless it says otherwise.
    public var acceptsAtOnce: Bool { false }
    public func publishAtOnce(_ events: [Event]) throws -> [PublishReceipt] {
        throw BrokerError(.brokerUnavailable, "this broker does not accept events at once")
    }
    /// A node on its own.
    public var cluster: (any ClusterChannel)? { nil }
}
