/// When a connection's token runs out: it is closed with `4001` at `exp` + leeway, waited for a
/// day at a time (`ExpiryTimer`), so a far `exp` never makes an unrepresentable deadline.
struct TokenExpiry: Sendable {
    /// The token's `exp`, in epoch seconds (moved by each `refresh`).
    private(set) var expiresAt: Int
    /// Clock skew allowed on `exp`.
    let leeway: Duration
    /// Whether reaching the armed deadline means the token has expired (false: one step of a longer wait).
    private(set) var expiresAtDeadline = false

    init(expiresAt: Int, leeway: Duration) {
        self.expiresAt = expiresAt
        self.leeway = leeway
    }

    /// Arms the deadline from `now` (for a new token's `exp` when given): returns it in uptime nanoseconds.
    mutating func arm(expiresAt: Int? = nil, now: Moment) -> UInt64 {
        if let expiresAt { self.expiresAt = expiresAt }
        let timer = ExpiryTimer(expiresAt: self.expiresAt, leeway: leeway, now: now.secondsSince1970)
        expiresAtDeadline = timer.expires
        return now.uptime(after: timer.delay)
    }
}
