/// Questions one node asks the other live nodes of its cluster about what they hold (their
/// connections, for the admin and `@connections` APIs), carried by a cluster broker.
public protocol ClusterChannel: Sendable {
    /// Asks every other live node `question`; returns each answer that came within `timeout`,
    /// and sooner once `enough` says the answers so far settle it (or every node has answered).
    func ask(_ question: JSONValue, timeout: Duration, enough: @escaping @Sendable ([JSONValue]) -> Bool) async throws -> [JSONValue]

    /// Sets what answers other nodes' questions on this node (set once, before serving).
    func answerQuestions(with answer: @escaping @Sendable (JSONValue) async -> JSONValue)
}
