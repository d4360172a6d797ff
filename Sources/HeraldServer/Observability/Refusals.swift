import HTTPTypes
import Synchronization

/// How many times each protective check said no since start, by reason code (`token_invalid`,
/// `origin_not_allowed`, `over_capacity`, `rate_limited`, `forbidden`, `policy_violation`…):
/// `GET /admin/stats` shows them. The reasons are a fixed set of codes, never user input.
/// Refused tokens are also counted in `herald_auth_failures_total`.
final class Refusals: Sendable {
    private let counts = Mutex<[String: Int]>([:])
    private let metrics: HeraldMetrics

    init(metrics: HeraldMetrics) { self.metrics = metrics }

    func count(_ reason: String) {
        counts.withLock { $0[reason, default: 0] += 1 }
    }

    /// A refused connect, counted as `connect.<reason>`.
    func connectRefused(_ rejection: HTTPRefusal) {
        count("connect.\(rejection.reason)")
        if rejection.status == .unauthorized { metrics.authFailed(rejection.reason) }
    }

    /// Every reason counted so far.
    var snapshot: [String: Int] { counts.withLock { $0 } }
}
