import Foundation
import NIOCore
import NIOEmbedded
import Testing

@testable import HeraldCore

/// All kept events of a node together stay within `maxBytes` (PROTOCOL.md §4): the node's oldest go first,
/// whichever entity and shard they belong to, and a resume from before them is not recovered.
@Suite struct NodeHistoryBoundTests {
    private let now = Date(timeIntervalSince1970: 1_795_000_000)
    private let loop = EmbeddedEventLoop()

    /// A text frame of 100 payload bytes (102 with its header) naming its entity and seq.
    private func frame(_ entity: String, _ seq: Int) -> WireFrame {
        let text = "\(entity):\(seq)"
        return .text(ByteBuffer(string: text + String(repeating: " ", count: 100 - text.utf8.count)))
    }

    private func streams(maxBytes: Int, size: Int = 10) -> EntityStreams {
        EntityStreams(hub: Hub(shardCount: 8), history: EntityHistory.Limits(size: size, maxBytes: maxBytes), shardCount: 8)
    }

    private func append(_ streams: EntityStreams, _ entity: String) {
        _ = streams.append(to: EntityID(entity)!, at: now) { frame(entity, $0) }
    }

    /// What a resume from `since` gets: recovered, and the replayed frames' names.
    private func resume(_ streams: EntityStreams, _ entity: String, since: Int) -> (Bool, [String]) {
        let replay = streams.subscribe(RecordingOutlet(on: loop), to: EntityID(entity)!, since: since, now: now)
        return (replay.recovered, replay.frames.map { String(buffer: $0.payload).trimmingCharacters(in: .whitespaces) })
    }

    @Test func theNodesOldestKeptEventsGoFirstAcrossEntities() {
        let streams = streams(maxBytes: 5 * 102)
        let holder = RecordingOutlet(on: loop)
        for entity in ["a", "b", "c"] { _ = streams.subscribe(holder, to: EntityID(entity)!, since: nil, now: now) }
        for entity in ["a", "b", "c", "a", "b", "c"] { append(streams, entity) }
        #expect(streams.figures == EntityStreams.Figures(streams: 3, keptEvents: 5, keptBytes: 5 * 102))
        #expect(resume(streams, "a", since: 0) == (false, ["a:2"]), "a:1 was the oldest")
        #expect(resume(streams, "b", since: 0) == (true, ["b:1", "b:2"]))
        append(streams, "c")  // c:3 pushes out b:1, the oldest now
        #expect(resume(streams, "b", since: 0) == (false, ["b:2"]))
        #expect(resume(streams, "b", since: 1) == (true, ["b:2"]))
        #expect(resume(streams, "c", since: 0) == (true, ["c:1", "c:2", "c:3"]))
        #expect(streams.figures.keptBytes == 5 * 102)
    }

    @Test func anEntityWhoseLastKeptEventWentIsForgottenWhenNobodyHoldsIt() {
        let streams = streams(maxBytes: 3 * 102)
        append(streams, "lonely")
        for _ in 0..<3 { append(streams, "busy") }
        #expect(streams.figures == EntityStreams.Figures(streams: 1, keptEvents: 3, keptBytes: 3 * 102))
        #expect(streams.latestSeq(of: EntityID("lonely")!) == 0, "forgotten: it starts again at 1")
        #expect(streams.append(to: EntityID("lonely")!, at: now) { frame("lonely", $0) } == 1)
    }

    @Test func aFrameLargerThanTheBoundIsNotKept() {
        let streams = streams(maxBytes: 50)
        let holder = RecordingOutlet(on: loop)
        _ = streams.subscribe(holder, to: EntityID("a")!, since: nil, now: now)
        append(streams, "a")
        loop.run()
        #expect(holder.texts.count == 1, "delivered all the same")
        #expect(streams.figures == EntityStreams.Figures(streams: 1, keptEvents: 0, keptBytes: 0))
        #expect(resume(streams, "a", since: 0) == (false, []))
    }

    @Test func eventsDroppedByTheirEntitysOwnLimitLeaveTheBoundExact() {
        // One entity far past its own 2-event limit, then others: the bound still counts exactly.
        let streams = streams(maxBytes: 4 * 102, size: 2)
        let holder = RecordingOutlet(on: loop)
        for entity in ["hot", "x", "y"] { _ = streams.subscribe(holder, to: EntityID(entity)!, since: nil, now: now) }
        for _ in 0..<5_000 { append(streams, "hot") }
        #expect(streams.figures.keptEvents == 2)
        for entity in ["x", "y", "x"] { append(streams, entity) }
        #expect(streams.figures == EntityStreams.Figures(streams: 3, keptEvents: 4, keptBytes: 4 * 102))
        #expect(resume(streams, "hot", since: 4_998) == (false, ["hot:5000"]))
    }

    @Test func recordsOfEventsThatLeftAnotherWayDoNotPileUp() {
        // A cold entity's kept event stays first in the order; behind it, a hot entity keeps one
        // event of 10,000, so the records of the 9,999 others must be swept out, not kept.
        var shard = StreamShard()
        var ticket = 0
        let limits = EntityHistory.Limits(size: 1)
        for (entity, count) in [("cold", 1), ("hot", 10_000)] {
            for _ in 0..<count {
                shard.update(
                    EntityID(entity)!,
                    make: { EntityHistory(limits: limits) },
                    ticket: {
                        ticket += 1
                        return ticket
                    }
                ) { stream in
                    _ = stream.append(at: now) { frame(entity, $0) }
                }
                shard.tidy()
                #expect(shard.recordCount <= 2 * shard.keptEvents + 1_024)
            }
        }
        #expect(shard.keptEvents == 2)
        #expect(shard.oldestTicket == 1, "the cold event is still the oldest")
        #expect(shard.evictOldest() == EntityID("cold")!)
        #expect(shard.evictOldest() == EntityID("hot")!)
        #expect(shard.evictOldest() == nil)
    }

    @Test func aShardThatEmptiedGivesItsRoomBack() {
        var shard = StreamShard()
        var ticket = 0
        let limits = EntityHistory.Limits(size: 1)
        let entities = (0..<20_000).map { EntityID("order-\($0)")! }
        for entity in entities {
            shard.update(
                entity,
                make: { EntityHistory(limits: limits) },
                ticket: {
                    ticket += 1
                    return ticket
                }
            ) { stream in
                _ = stream.append(at: now) { frame("e", $0) }
            }
            shard.tidy()
        }
        #expect(shard.streams.capacity >= 20_000 && shard.recordCount == 20_000)
        for entity in entities {
            shard.replace(entity, with: nil)
            shard.tidy()
        }
        #expect(shard.streams.isEmpty && shard.keptEvents == 0 && shard.keptBytes == 0)
        #expect(shard.streams.capacity <= 2_048, "a dictionary never shrinks by itself")
        #expect(shard.recordCount == 0)
    }
}
