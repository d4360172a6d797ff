import HeraldCore
import NIOCore
import Synchronization

/// Upgrade attempts per second per source IP address (SPEC §6): a `RateLimit` per address,
/// forgotten once it has been idle for a second (by then its bucket is full again), so the table
/// holds only the addresses seen in the last second or so.
final class HandshakeRateLimit: Sendable {
    private let perSecond: Int
    private let buckets = Mutex<[String: RateLimit]>([:])
    /// The table is swept of idle addresses whenever it grows past this.
    private static let sweepThreshold = 4_096

    /// - Parameter perSecond: attempts per second per address; 0 means no limit.
    init(perSecond: Int) {
        self.perSecond = perSecond
    }

    /// True when `address` may attempt a handshake now.
    func admit(_ address: String) -> Bool {
        guard perSecond > 0 else { return true }
        let now = NIODeadline.now().uptimeNanoseconds
        return buckets.withLock { buckets in
            if buckets.count >= Self.sweepThreshold {
                buckets = buckets.filter { now &- $0.value.lastRefill < 1_000_000_000 }
            }
            return buckets[address, default: RateLimit(perSecond: perSecond, now: now)].eventOccurred(now: now) == .handle
        }
    }
}
