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
    /// Accepts events, all or none, and answers once with each one's id (and `seq` for entity
    /// updates), in order, or with `BrokerError` code `.brokerUnavailable` when they could not be
    /// accepted: then none of them was.
    ///
    /// A broker that accepts without waiting (the in-memory one) answers before it returns, on
    /// the caller's thread; one that waits for its storage answers later, on a thread of its
    /// own. No task is made for the caller: a publish read on an event loop is answered there.
    func publish(_ events: [Event], then answer: @escaping @Sendable (Result<[PublishReceipt], BrokerError>) -> Void)

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
    /// `publish(_:then:)`, awaited.
    public func publish(_ events: [Event]) async throws(BrokerError) -> [PublishReceipt] {
        let result = await withCheckedContinuation { continuation in publish(events) { continuation.resume(returning: $0) } }
        return try result.get()
    }

    /// Accepts one event (see `publish(_:)` for a batch).
    public func publish(_ event: Event) async throws -> PublishReceipt {
        guard let receipt = try await publish([event]).first else {
            throw BrokerError(.brokerUnavailable, "the broker gave no receipt")
        }
        return receipt
    }

    /// Always available: nothing outside the process can fail.
    public var isAvailable: Bool { true }
    /// A node on its own.
    public var cluster: (any ClusterChannel)? { nil }
}
