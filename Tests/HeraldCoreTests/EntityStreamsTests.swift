import Foundation
import HeraldCore
import NIOCore
import NIOEmbedded
import Synchronization
import Testing

/// The streams a cluster broker feeds: events numbered elsewhere arrive once, in order, or are reported as a gap.
@Suite struct EntityStreamsTests {
    private let now = Date(timeIntervalSince1970: 1_795_000_000)
    private let entity = EntityID("order-7")!

    private func frame(_ seq: Int) -> WireFrame { .text(ByteBuffer(string: "\(seq)")) }

    @Test func eventsNumberedElsewhereAreDeliveredOnceInOrder() {
        let loop = EmbeddedEventLoop()
        let streams = EntityStreams(hub: Hub(shardCount: 2), history: EntityHistory.Limits(), shardCount: 2)
        let outlet = RecordingOutlet(on: loop)
        #expect(streams.subscribe(outlet, to: entity, since: nil, now: now) == .none)
        #expect(streams.accept(frame(1), seq: 1, of: entity, at: now) == .delivered)
        #expect(streams.accept(frame(1), seq: 1, of: entity, at: now) == .duplicate)
        #expect(streams.accept(frame(3), seq: 3, of: entity, at: now) == .gap(after: 1))
        #expect(streams.accept(frame(2), seq: 2, of: entity, at: now) == .delivered)
        #expect(streams.accept(frame(3), seq: 3, of: entity, at: now) == .delivered)
        loop.run()
        #expect(outlet.texts == ["1", "2", "3"])
        #expect(streams.latestSeq(of: entity) == 3)
    }

    @Test func aGapCanBeAcceptedAndResumeThenSaysWhatIsLost() {
        let loop = EmbeddedEventLoop()
        let streams = EntityStreams(hub: Hub(shardCount: 2), history: EntityHistory.Limits(), shardCount: 2)
        #expect(streams.accept(frame(1), seq: 1, of: entity, at: now) == .delivered)
        #expect(streams.accept(frame(4), seq: 4, of: entity, at: now, allowingGap: true) == .delivered)
        let replay = streams.subscribe(RecordingOutlet(on: loop), to: entity, since: 1, now: now)
        #expect(replay.frames.map { String(buffer: $0.payload) } == ["4"])
        #expect(!replay.recovered)
    }

    @Test func aHeadLoadedWithoutEventsNumbersOnFromIt() {
        let loop = EmbeddedEventLoop()
        let streams = EntityStreams(hub: Hub(shardCount: 2), history: EntityHistory.Limits(), shardCount: 2)
        streams.skip(entity, to: 40)
        #expect(streams.subscribe(RecordingOutlet(on: loop), to: entity, since: 40, now: now) == .none)
        #expect(streams.accept(frame(41), seq: 41, of: entity, at: now) == .delivered)
        #expect(streams.append(to: entity, at: now) { self.frame($0) } == 42)
    }

    @Test func everyDeliveryIsToldToTheObserver() {
        final class Counting: DeliveryObserver {
            let seen = Mutex<[Int]>([])
            func delivered(to count: Int, fanOut: Duration) { seen.withLock { $0.append(count) } }
        }
        let loop = EmbeddedEventLoop()
        let observer = Counting()
        let hub = Hub(shardCount: 2, observer: observer)
        let streams = EntityStreams(hub: hub, history: EntityHistory.Limits(), shardCount: 2)
        _ = streams.subscribe(RecordingOutlet(on: loop), to: entity, since: nil, now: now)
        _ = streams.accept(frame(1), seq: 1, of: entity, at: now)
        hub.deliver(frame(0), toUser: UserID("nobody")!)
        #expect(observer.seen.withLock { $0 } == [1, 0])
    }
}
