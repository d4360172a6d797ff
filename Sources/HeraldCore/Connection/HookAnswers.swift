/// The authorisation hook's answers one connection remembers (docs/PROTOCOL.md §2),
/// as a value: each for `ttl`, and never more than `capacity` of them — when full, the oldest is
/// forgotten first. Every answer lives equally long, so the oldest is also the first to expire.
/// No clock of its own: the caller passes monotonic nanoseconds.
public struct HookAnswers: Sendable {
    private struct Answer: Sendable {
        var allowed: Bool
        var until: UInt64
        /// Which `record` wrote it: an older entry for the same entity in `order` is stale.
        var stamp: UInt64
    }

    /// The most answers kept.
    public let capacity: Int
    /// How long an answer is kept, in nanoseconds.
    public let ttl: UInt64
    private var answers: [EntityID: Answer] = [:]
    /// Recorded entities, oldest first (from `head`), with the stamp they were recorded under.
    private var order: [(entity: EntityID, stamp: UInt64)] = []
    private var head = 0
    private var stamps: UInt64 = 0

    /// - Parameters:
    ///   - capacity: the most answers kept (at least 1).
    ///   - ttl: how long each is kept.
    public init(capacity: Int, ttl: Duration) {
        self.capacity = max(1, capacity)
        self.ttl = UInt64(clamping: max(ttl, .zero).inNanoseconds)
    }

    /// How many answers are kept now (expired ones included until they are pruned).
    public var count: Int { answers.count }

    /// The remembered answer for `entity`, unless it has expired by `now`.
    public func answer(for entity: EntityID, now: UInt64) -> Bool? {
        guard let answer = answers[entity], answer.until > now else { return nil }
        return answer.allowed
    }

    /// Remembers an answer given at `now`, forgetting expired answers and, when full, the oldest.
    public mutating func record(_ entity: EntityID, allowed: Bool, now: UInt64) {
        prune(now: now)
        if answers[entity] == nil, answers.count >= capacity { forgetOldest() }
        stamps += 1
        answers[entity] = Answer(allowed: allowed, until: now &+ ttl, stamp: stamps)
        order.append((entity, stamps))
        compactIfStale()
    }

    private mutating func prune(now: UInt64) {
        while head < order.count {
            let (entity, stamp) = order[head]
            guard let answer = answers[entity], answer.stamp == stamp else {
                head += 1  // stale: the entity was recorded again later
                continue
            }
            guard answer.until <= now else { return }
            answers[entity] = nil
            head += 1
        }
    }

    private mutating func forgetOldest() {
        while head < order.count {
            let (entity, stamp) = order[head]
            head += 1
            if answers[entity]?.stamp == stamp {
                answers[entity] = nil
                return
            }
        }
    }

    /// Keeps `order` within twice the capacity: drops what was consumed or superseded.
    private mutating func compactIfStale() {
        guard order.count - head > 2 * capacity || head > capacity else { return }
        order = order[head...].filter { answers[$0.entity]?.stamp == $0.stamp }
        head = 0
    }
}
