/// Accepts published events and gets them to every node's hub (SPEC §5, §8).
///
/// The in-memory broker delivers to its own hub; a cluster broker appends to shared storage
/// and each node delivers to its local subscribers. Callers see the same contract either way:
/// `publish` returns once the event is accepted, and events of one entity reach each
/// subscriber in `seq` order.
public protocol Broker: Sendable {
    /// Accepts one event and returns its id (and `seq` for entity updates).
    /// Throws `HeraldError` with code `.brokerUnavailable` when nothing could be accepted.
    func publish(_ event: Event) async throws -> PublishReceipt
}
