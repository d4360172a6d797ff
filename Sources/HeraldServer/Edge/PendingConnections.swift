import Synchronization

/// Connections accepted but not yet upgraded to WebSocket nor answered, across every event loop,
/// bounded by `--max-pending-connections`.
final class PendingConnections: Sendable {
    /// The most that may be pending at once.
    let limit: Int
    private let count = Atomic<Int>(0)

    init(limit: Int) {
        self.limit = limit
    }

    /// Counts one more; false, with nothing counted, when `limit` are already pending.
    func admit() -> Bool {
        var current = count.load(ordering: .relaxed)
        while current < limit {
            let (exchanged, original) = count.compareExchange(expected: current, desired: current + 1, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
        return false
    }

    /// One pending connection was upgraded, answered or closed.
    func release() {
        count.subtract(1, ordering: .relaxed)
    }

    /// How many are pending now.
    var current: Int { count.load(ordering: .relaxed) }
}
