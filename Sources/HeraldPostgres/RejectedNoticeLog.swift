import Foundation
import HeraldCore

/// The notices a node refused: each told to the metrics as it comes, and logged at most once per
/// `interval` with the counts since the last line (a flood of forged notices is one line a minute).
struct RejectedNoticeLog {
    static let interval: TimeInterval = 60

    /// What is told of each refused notice (the server's metrics).
    var report: (@Sendable (RejectedNotice) -> Void)?
    private var counts: [RejectedNotice: Int] = [:]
    private var loggedAt: Date?

    /// Counts `reason`; returns the counts to log now, or nil within `interval` of the last line.
    mutating func record(_ reason: RejectedNotice, now: Date) -> [RejectedNotice: Int]? {
        counts[reason, default: 0] += 1
        if let loggedAt, now.timeIntervalSince(loggedAt) < Self.interval { return nil }
        loggedAt = now
        defer { counts = [:] }
        return counts
    }
}
