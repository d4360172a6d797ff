#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// One entity's stream as a value: the latest `seq` handed out and the newest events kept for resume.
///
/// It keeps at most `limits.size` events, none older than `limits.ttl` (whichever is smaller),
/// each as the frame already encoded for live delivery, so a replay writes the same bytes again.
/// No I/O, no locks: the broker owns one per entity under its shard lock.
public struct EntityHistory: Sendable {
    /// How much is kept per entity (SPEC §4: default the last 100 events or 10 minutes).
    public struct Limits: Equatable, Sendable {
        /// Events kept per entity; 0 keeps none (resume then only recovers when nothing was missed).
        public var size: Int
        /// Age limit of kept events.
        public var ttl: Duration

        public init(size: Int = 100, ttl: Duration = .seconds(600)) {
            self.size = size
            self.ttl = ttl
        }
    }

    private struct Kept: Sendable {
        let seq: Int
        let time: Date
        let frame: WireFrame
    }

    /// The `seq` of the entity's latest event (0 before the first).
    public private(set) var latestSeq = 0
    /// Kept events, oldest first, with consecutive `seq`s ending at `latestSeq`.
    private var kept: [Kept] = []
    private let limits: Limits
    private let ttlSeconds: TimeInterval

    public init(limits: Limits) {
        self.limits = limits
        ttlSeconds = limits.ttl.inSeconds
    }

    /// How many events are kept now.
    public var count: Int { kept.count }

    /// Numbers the entity's next event, has it encoded, and keeps it; returns its `seq` and frame.
    public mutating func append(at time: Date, encode: (_ seq: Int) -> WireFrame) -> (seq: Int, frame: WireFrame) {
        let seq = latestSeq + 1
        let frame = encode(seq)
        accept(frame, seq: seq, at: time)
        return (seq, frame)
    }

    /// Keeps an event numbered elsewhere (a cluster broker's database); false, and nothing kept,
    /// when `seq` is not after `latestSeq` (the event is already here). An event that skips
    /// numbers starts the kept run afresh: the skipped events cannot be replayed.
    @discardableResult
    public mutating func accept(_ frame: WireFrame, seq: Int, at time: Date) -> Bool {
        guard seq > latestSeq else { return false }
        if seq > latestSeq + 1 { kept.removeAll() }
        latestSeq = seq
        guard limits.size > 0 else { return true }
        kept.append(Kept(seq: seq, time: time, frame: frame))
        if kept.count > limits.size { kept.removeFirst(kept.count - limits.size) }
        evictExpired(now: time)
        return true
    }

    /// Moves `latestSeq` on to `seq` without an event (events the history no longer has);
    /// what was kept before cannot be replayed past the jump, so it is dropped.
    public mutating func skip(to seq: Int) {
        guard seq > latestSeq else { return }
        latestSeq = seq
        kept.removeAll()
    }

    /// Drops events older than the age limit; true when the history holds no event any more.
    @discardableResult
    public mutating func evictExpired(now: Date) -> Bool {
        let oldestAllowed = now - ttlSeconds
        if let firstKept = kept.firstIndex(where: { $0.time >= oldestAllowed }) {
            if firstKept > 0 { kept.removeFirst(firstKept) }
        } else {
            kept.removeAll()
        }
        return kept.isEmpty
    }

    /// What a client that has seen every event up to `since` missed (SPEC §4).
    ///
    /// Recovered when the kept events reach back to `since + 1` (or nothing was missed): they are
    /// all replayed. Not recovered when they do not reach back that far — the kept tail is replayed
    /// so the client can go on from it — or when `since` is beyond `latestSeq`, which means the
    /// stream was reset (another epoch); then nothing is replayed.
    public func replay(after since: Int, now: Date) -> Replay {
        guard since <= latestSeq else { return Replay(frames: [], recovered: false) }
        let oldestAllowed = now - ttlSeconds
        let live = kept.drop { $0.time < oldestAllowed }
        let missed = live.drop { $0.seq <= since }
        let reachesBack = since == latestSeq || missed.first?.seq == since + 1
        return Replay(frames: missed.map(\.frame), recovered: reachesBack)
    }
}
