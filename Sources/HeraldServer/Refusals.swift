import Synchronization

/// How many times each protective check said no since start, by reason code (`token_invalid`,
/// `origin_not_allowed`, `over_capacity`, `rate_limited`, `forbidden`, `policy_violation`…):
/// `GET /admin/stats` shows them. The reasons are a fixed set of codes, never user input.
final class Refusals: Sendable {
    private let counts = Mutex<[String: Int]>([:])

    func count(_ reason: String) {
        counts.withLock { $0[reason, default: 0] += 1 }
    }

    /// Every reason counted so far.
    var snapshot: [String: Int] { counts.withLock { $0 } }
}
