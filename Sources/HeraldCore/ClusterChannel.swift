/// Questions one node asks the other live nodes of its cluster about what they hold (their
/// connections, for the admin and `@connections` APIs), carried by a cluster broker.
public protocol ClusterChannel: Sendable {
    /// Asks every other live node `question`; returns each answer that came within `timeout`,
    /// and sooner once `enough` says the answers so far settle it (or every node has answered).
    func ask(_ question: JSONValue, timeout: Duration, enough: @escaping @Sendable ([JSONValue]) -> Bool) async throws -> [JSONValue]

    /// Sets what answers other nodes' questions on this node (set once, before serving).
    func answerQuestions(with answer: @escaping @Sendable (JSONValue) async -> JSONValue)

    /// Sets what is told of each notice heard on the cluster's channel that no node of the
    /// cluster sealed, or that was heard before (set once, before serving).
    func reportRejectedNotices(to report: @escaping @Sendable (RejectedNotice) -> Void)
}

/// Why a notice heard on the cluster's channel was dropped (the `reason` label of
/// `herald_cluster_notices_rejected_total`).
public enum RejectedNotice: String, CaseIterable, Sendable, Error {
    /// Not a sealed notice at all: not base64, too short, an unknown version, or contents this
    /// node cannot read.
    case malformed
    /// Sealed with another secret, or altered: it does not open.
    case unauthenticated
    /// Sealed too long ago (or too far ahead of this node's clock), or before this node started.
    case stale
    /// Heard before (a replay), or too far behind the sender's newest notice to tell.
    case replayed
}

/// The secret every node of a cluster shares (`--cluster-secret`): only a holder can seal a
/// notice the nodes believe, or read one.
public struct ClusterSecret: Sendable, Equatable {
    /// The shortest secret accepted.
    public static let minimumBytes = 32

    /// The secret's bytes (its text's UTF-8).
    public let bytes: [UInt8]

    /// Nil when `text` is shorter than `minimumBytes` bytes.
    public init?(_ text: String) {
        guard text.utf8.count >= Self.minimumBytes else { return nil }
        bytes = Array(text.utf8)
    }
}
