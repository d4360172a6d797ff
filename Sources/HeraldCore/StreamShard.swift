import NIOCore

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One shard of `EntityStreams` as a value: its entities' streams, what they keep in all, and the
/// order in which their kept events arrived, which the node-wide byte bound evicts from.
///
/// `order` holds a record per kept event, in arrival order (its `ticket`, counted for the whole
/// node). An event that leaves another way — the per-entity size, the TTL, a gap, a reset — leaves
/// its record behind: such stale records are skipped when they come first, and swept out whenever
/// they outnumber the kept events, so `order` never holds more than about twice the kept events.
/// No locks: `EntityStreams` owns one per shard under the shard's lock.
struct StreamShard {
    /// A kept event's place in the node's arrival order.
    struct Record {
        let entity: EntityID
        let seq: Int
        let ticket: Int
    }

    private(set) var streams: [EntityID: EntityHistory] = [:]
    private var order = CircularBuffer<Record>()
    /// Events kept by all streams of the shard, and their frame bytes.
    private(set) var keptEvents = 0
    private(set) var keptBytes = 0

    /// Records in `order`, stale ones included (tests check they stay bounded).
    var recordCount: Int { order.count }

    /// The ticket of the oldest record (`Int.max` when there is none).
    var oldestTicket: Int { order.first?.ticket ?? .max }

    /// Changes the stream of `entity` (made by `make` when there is none) with `body` and books
    /// what it kept and dropped; each newly kept event is given a record with a ticket from `ticket`.
    mutating func update<Result>(
        _ entity: EntityID,
        make: () -> EntityHistory,
        ticket: () -> Int,
        _ body: (inout EntityHistory) -> Result
    ) -> Result {
        // Changed in place, and only figures copied: a copy of the stream would copy its kept events.
        let (result, before, after) = Self.change(&streams[entity, default: make()], with: body)
        keptEvents += after.count - before.count
        keptBytes += after.bytes - before.bytes
        if let kept = after.keptSeqs, kept.upperBound > before.latestSeq {
            for seq in max(kept.lowerBound, before.latestSeq + 1)...kept.upperBound {
                order.append(Record(entity: entity, seq: seq, ticket: ticket()))
            }
        }
        return result
    }

    /// The figures of a stream that `update` compares before and after a change.
    private struct Figures {
        var count: Int
        var bytes: Int
        var latestSeq: Int
        var keptSeqs: ClosedRange<Int>?

        init(_ stream: EntityHistory) {
            (count, bytes, latestSeq, keptSeqs) = (stream.count, stream.bytes, stream.latestSeq, stream.keptSeqs)
        }
    }

    private static func change<Result>(
        _ stream: inout EntityHistory,
        with body: (inout EntityHistory) -> Result
    ) -> (Result, before: Figures, after: Figures) {
        let before = Figures(stream)
        let result = body(&stream)
        return (result, before, Figures(stream))
    }

    /// Puts `stream` in the place of the entity's (a stream started again), or removes it (nil:
    /// forgotten), booking what the old one kept as dropped.
    mutating func replace(_ entity: EntityID, with stream: EntityHistory?) {
        if let old = streams[entity] {
            keptEvents -= old.count
            keptBytes -= old.bytes
        }
        streams[entity] = stream
        if let stream {
            keptEvents += stream.count
            keptBytes += stream.bytes
        }
    }

    /// Drops the shard's oldest kept event; returns its entity (nil when the shard keeps none).
    mutating func evictOldest() -> EntityID? {
        while let record = order.popFirst() {
            guard isKept(record), let bytes = streams[record.entity]?.bytes else { continue }
            streams[record.entity]?.dropOldest()
            keptEvents -= 1
            keptBytes -= bytes - (streams[record.entity]?.bytes ?? 0)
            return record.entity
        }
        return nil
    }

    /// Drops events older than the TTL from every stream; returns the entities that keep nothing now.
    mutating func evictExpired(now: Date) -> [EntityID] {
        var keepingNothing: [EntityID] = []
        // Walked by index, not over `streams.indices`: that collection holds the table, and the
        // first change would then copy all of it.
        var index = streams.startIndex
        while index != streams.endIndex {
            let (count, bytes) = (streams.values[index].count, streams.values[index].bytes)
            if count > 0 {
                streams.values[index].evictExpired(now: now)
                keptEvents += streams.values[index].count - count
                keptBytes += streams.values[index].bytes - bytes
            }
            if streams.values[index].count == 0 { keepingNothing.append(streams.keys[index]) }
            index = streams.index(after: index)
        }
        return keepingNothing
    }

    /// Drops stale records from the front, and every stale record once they outnumber the kept
    /// events; gives back the room of a shard that shrank (neither a dictionary nor a ring buffer
    /// shrinks by itself: after 200,000 forgotten entities the empty tables held 50 MiB).
    mutating func tidy() {
        while let first = order.first, !isKept(first) { order.removeFirst() }
        if order.count > 2 * keptEvents + 1_024 { order = CircularBuffer(order.filter(isKept)) }
        if order.capacity > 4 * order.count + 1_024 { order = CircularBuffer(order) }
        if streams.capacity > 4 * streams.count + 1_024 { streams = Dictionary(uniqueKeysWithValues: streams.map { ($0.key, $0.value) }) }
    }

    private func isKept(_ record: Record) -> Bool {
        streams[record.entity]?.keptSeqs?.contains(record.seq) == true
    }
}
