import NIOCore

#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// One entity's stream as a value: its epoch, the latest `seq` handed out and the newest events
/// kept for resume.
///
/// It keeps at most `limits.size` events, none older than `limits.ttl` (whichever is smaller),
/// each as the frame already encoded for live delivery, so a replay writes the same bytes again.
/// The `epoch` names this run of the stream's numbering: a stream that is forgotten and starts
/// again gets a new one, so `seq`s of two runs are never mistaken for each other.
/// No I/O, no locks: `EntityStreams` owns one per entity under its shard lock.
public struct EntityHistory: Sendable {
    /// How much is kept (PROTOCOL.md §4: default the last 100 events or 10 minutes per entity, and
    /// 64 MiB for all entities of a node together).
    public struct Limits: Equatable, Sendable {
        /// Events kept per entity; 0 keeps none (resume then only recovers when nothing was missed).
        public var size: Int
        /// Age limit of kept events.
        public var ttl: Duration
        /// Frame bytes kept for all entities of the node together; over it, the oldest go first.
        public var maxBytes: Int

        public init(size: Int = 100, ttl: Duration = .seconds(600), maxBytes: Int = 64 << 20) {
            self.size = size
            self.ttl = ttl
            self.maxBytes = maxBytes
        }

        /// How often expired history is swept: a tenth of the TTL, at least a second.
        public var sweepInterval: Duration { max(ttl / 10, .seconds(1)) }
    }

    private struct Kept: Sendable {
        let seq: Int
        let time: Date
        let frame: WireFrame
    }

    /// This run of the stream (sent in every `subscribed` ack).
    public let epoch: String
    /// The `seq` of the entity's latest event (0 before the first).
    public private(set) var latestSeq = 0
    /// Frame bytes of the kept events (header and payload, what the node-wide bound counts).
    public private(set) var bytes = 0
    /// Kept events, oldest first, with consecutive `seq`s ending at `latestSeq`. Room for one to
    /// start with (a ring of two holds one; NIO's default of 16 would be a kilobyte for every
    /// entity); it doubles as needed.
    private var kept = CircularBuffer<Kept>(initialCapacity: 2)
    private let limits: Limits

    /// A stream with nothing numbered yet, under `epoch` (a new random one unless given).
    public init(limits: Limits, epoch: String = EntityHistory.newEpoch()) {
        self.limits = limits
        self.epoch = epoch
    }

    /// A new random epoch.
    public static func newEpoch() -> String {
        String(UInt64.random(in: 1...UInt64.max), radix: 36)
    }

    /// How many events are kept now.
    public var count: Int { kept.count }

    /// The `seq`s of the kept events (nil when none is kept).
    public var keptSeqs: ClosedRange<Int>? {
        kept.first.map { $0.seq...latestSeq }
    }

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
        if seq > latestSeq + 1 { dropAll() }
        latestSeq = seq
        guard limits.size > 0 else { return true }
        kept.append(Kept(seq: seq, time: time, frame: frame))
        bytes += frame.bytes.readableBytes
        while kept.count > limits.size { dropOldest() }
        evictExpired(now: time)
        return true
    }

    /// Moves `latestSeq` on to `seq` without an event (events the history no longer has);
    /// what was kept before cannot be replayed past the jump, so it is dropped.
    public mutating func skip(to seq: Int) {
        guard seq > latestSeq else { return }
        latestSeq = seq
        dropAll()
    }

    /// Drops events older than the age limit; true when the history holds no event any more.
    @discardableResult
    public mutating func evictExpired(now: Date) -> Bool {
        let oldestAllowed = now - limits.ttl.inSeconds
        while let first = kept.first, first.time < oldestAllowed { dropOldest() }
        return kept.isEmpty
    }

    /// Drops the oldest kept event (the node's byte bound needs the room); a resume from before
    /// it is then not recovered.
    public mutating func dropOldest() {
        guard let first = kept.popFirst() else { return }
        bytes -= first.frame.bytes.readableBytes
    }

    private mutating func dropAll() {
        kept = CircularBuffer(initialCapacity: 2)
        bytes = 0
    }

    /// What a client that has seen every event up to `since` — under `epoch`, when it says —
    /// missed (PROTOCOL.md §4, `Replay.resume`), from the events kept and not expired by `now`.
    public func replay(after since: Int, epoch clientEpoch: String? = nil, now: Date) -> Replay {
        let oldestAllowed = now - limits.ttl.inSeconds
        let live = kept.lazy.drop { $0.time < oldestAllowed }.map { (seq: $0.seq, frame: $0.frame) }
        return Replay.resume(since: since, epoch: clientEpoch, streamEpoch: epoch, latestSeq: latestSeq, kept: live)
    }
}
