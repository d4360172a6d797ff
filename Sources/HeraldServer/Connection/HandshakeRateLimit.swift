import HeraldCore
import HeraldTokens
import NIOCore
import Synchronization

/// Upgrade attempts per second per source IP address (OPERATIONS.md §2): a `RateLimit` per address,
/// forgotten once it has been idle for a second (by then its bucket is full again). Once the table
/// is large it is swept at most once a second, so a flood from many addresses costs one scan per
/// second, not one per handshake, and the table holds about a second's worth of addresses.
final class HandshakeRateLimit: Sendable {
    private let perSecond: Int
    private let table = Mutex<(buckets: [String: RateLimit], lastSweep: UInt64)>(([:], 0))
    /// Below this many addresses the table is not swept.
    private static let sweepThreshold = 4_096
    private static let second: UInt64 = 1_000_000_000

    /// - Parameter perSecond: attempts per second per address; 0 means no limit.
    init(perSecond: Int) {
        self.perSecond = perSecond
    }

    /// True when `address` may attempt a handshake now.
    func admit(_ address: String) -> Bool {
        guard perSecond > 0 else { return true }
        let now = NIODeadline.now().uptimeNanoseconds
        return table.withLock { table in
            if table.buckets.count >= Self.sweepThreshold, now &- table.lastSweep >= Self.second {
                table.buckets = table.buckets.filter { now &- $0.value.lastRefill < Self.second }
                table.lastSweep = now
            }
            return table.buckets[address, default: RateLimit(perSecond: perSecond, now: now)].eventOccurred(now: now) == .handle
        }
    }
}
