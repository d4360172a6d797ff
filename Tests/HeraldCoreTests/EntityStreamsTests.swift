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

    /// Streams as a cluster broker runs them: new ones under the cluster's epoch "e1", forgotten when told.
    private func clusterStreams(_ hub: Hub = Hub(shardCount: 2)) -> EntityStreams {
        let streams = EntityStreams(hub: hub, history: EntityHistory.Limits(), shardCount: 2, forgetsIdleStreams: false)
        streams.startNewStreams(under: "e1")
        return streams
    }

    @Test func eventsNumberedElsewhereAreDeliveredOnceInOrder() {
        let loop = EmbeddedEventLoop()
        let streams = clusterStreams()
        let outlet = RecordingOutlet(on: loop)
        #expect(streams.subscribe(outlet, to: entity, since: nil, now: now) == .none(epoch: "e1"))
        #expect(streams.accept(frame(1), seq: 1, epoch: "e1", of: entity, at: now) == .delivered)
        #expect(streams.accept(frame(1), seq: 1, epoch: "e1", of: entity, at: now) == .duplicate)
        #expect(streams.accept(frame(3), seq: 3, epoch: "e1", of: entity, at: now) == .gap(after: 1))
        #expect(streams.accept(frame(2), seq: 2, epoch: "e1", of: entity, at: now) == .delivered)
        #expect(streams.accept(frame(3), seq: 3, epoch: "e1", of: entity, at: now) == .delivered)
        loop.run()
        #expect(outlet.texts == ["1", "2", "3"])
        #expect(streams.latestSeq(of: entity) == 3)
    }

    @Test func aGapCanBeAcceptedAndResumeThenSaysWhatIsLost() {
        let loop = EmbeddedEventLoop()
        let streams = clusterStreams()
        #expect(streams.accept(frame(1), seq: 1, epoch: "e1", of: entity, at: now) == .delivered)
        #expect(streams.accept(frame(4), seq: 4, epoch: "e1", of: entity, at: now, allowingGap: true) == .delivered)
        let replay = streams.subscribe(RecordingOutlet(on: loop), to: entity, since: 1, now: now)
        #expect(replay.frames.map { String(buffer: $0.payload) } == ["4"])
        #expect(!replay.recovered)
    }

    @Test func aHeadLoadedWithoutEventsNumbersOnFromIt() {
        let loop = EmbeddedEventLoop()
        let streams = clusterStreams()
        streams.skip(entity, to: 40, epoch: "e1")
        #expect(streams.subscribe(RecordingOutlet(on: loop), to: entity, since: 40, now: now) == .none(epoch: "e1"))
        #expect(streams.accept(frame(41), seq: 41, epoch: "e1", of: entity, at: now) == .delivered)
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
        let streams = clusterStreams(hub)
        _ = streams.subscribe(RecordingOutlet(on: loop), to: entity, since: nil, now: now)
        _ = streams.accept(frame(1), seq: 1, epoch: "e1", of: entity, at: now)
        hub.deliver(frame(0), toUser: UserID("nobody")!)
        #expect(observer.seen.withLock { $0 } == [1, 0])
    }

    // MARK: A stream started again elsewhere

    @Test func anEventOfANewEpochResetsTheStreamAndTellsItsSubscribersFirst() {
        let loop = EmbeddedEventLoop()
        let streams = clusterStreams()
        let outlet = RecordingOutlet(on: loop)
        _ = streams.subscribe(outlet, to: entity, since: nil, now: now)
        for seq in 1...2 { #expect(streams.accept(frame(seq), seq: seq, epoch: "e1", of: entity, at: now) == .delivered) }
        #expect(streams.accept(frame(1), seq: 1, epoch: "e2", of: entity, at: now) == .delivered, "not taken for a duplicate")
        loop.run()
        #expect(outlet.texts == ["1", "2", #"{"type":"subscribed","entityId":"order-7","recovered":false,"epoch":"e2"}"#, "1"])
        #expect(streams.latestSeq(of: entity) == 1)
        let stale = streams.subscribe(RecordingOutlet(on: loop), to: entity, since: 2, epoch: "e1", now: now)
        #expect(stale == Replay(frames: [], recovered: false, epoch: "e2"), "nothing of e2 replayed after e1's 2")
        let current = streams.subscribe(RecordingOutlet(on: loop), to: entity, since: 0, epoch: "e2", now: now)
        #expect(current.recovered && current.frames.map { String(buffer: $0.payload) } == ["1"])
    }

    /// A node acked a subscriber with the epoch it expected new streams to get, and the stream
    /// started under another (the cluster's changed meanwhile): nothing was missed, but the
    /// subscriber learns the epoch before the first event.
    @Test func aStreamNothingWasNumberedInTakesItsFirstEventsEpochAndSaysNothingWasMissed() {
        let loop = EmbeddedEventLoop()
        let streams = clusterStreams()
        let outlet = RecordingOutlet(on: loop)
        #expect(streams.subscribe(outlet, to: entity, since: nil, now: now).epoch == "e1")
        #expect(streams.accept(frame(1), seq: 1, epoch: "e9", of: entity, at: now) == .delivered)
        loop.run()
        #expect(outlet.texts == [#"{"type":"subscribed","entityId":"order-7","recovered":true,"epoch":"e9"}"#, "1"])
    }

    @Test func aClusterStreamIsForgottenOnlyWhenToldAndOnlyIfIdle() {
        let loop = EmbeddedEventLoop()
        let hub = Hub(shardCount: 2)
        let streams = clusterStreams(hub)
        let outlet = RecordingOutlet(on: loop)
        let other = EntityID("other")!
        streams.skip(entity, to: 5, epoch: "e1")
        _ = streams.subscribe(outlet, to: other, since: nil, now: now)
        #expect(Set(streams.idleEntities()) == [entity])
        streams.unsubscribe(outlet, from: [other])
        #expect(streams.figures.streams == 2, "kept until the database has forgotten it")
        #expect(Set(streams.idleEntities()) == [entity, other])
        _ = streams.subscribe(outlet, to: entity, since: nil, now: now)
        #expect(streams.forget([entity, other]) == 1, "a subscriber came back to order-7")
        #expect(streams.figures.streams == 1)
        #expect(streams.latestSeq(of: entity) == 5)
    }

    // MARK: Forgetting

    @Test func aStandaloneStreamIsForgottenWhenItsLastSubscriberLeavesWithNothingKept() {
        let loop = EmbeddedEventLoop()
        let hub = Hub(shardCount: 2)
        let streams = EntityStreams(hub: hub, history: EntityHistory.Limits(size: 0), shardCount: 2)
        let (first, second) = (RecordingOutlet(on: loop), RecordingOutlet(on: loop))
        let epoch = streams.subscribe(first, to: entity, since: nil, now: now).epoch
        #expect(streams.subscribe(second, to: entity, since: nil, now: now).epoch == epoch)
        #expect(streams.append(to: entity, at: now) { self.frame($0) } == 1)
        streams.unsubscribe(first, from: [entity])
        #expect(streams.figures.streams == 1)
        streams.unsubscribe(second, from: [entity])
        #expect(streams.figures == EntityStreams.Figures(streams: 0, keptEvents: 0, keptBytes: 0))
        #expect(hub.subscriptions == 0)
        #expect(streams.subscribe(first, to: entity, since: nil, now: now).epoch != epoch, "a new stream")
    }

    @Test func aSweepForgetsWhatExpiredUnlessSubscribedAndSaysSo() {
        let loop = EmbeddedEventLoop()
        let streams = EntityStreams(hub: Hub(shardCount: 2), history: EntityHistory.Limits(ttl: .seconds(60)), shardCount: 2)
        let held = EntityID("held")!
        _ = streams.subscribe(RecordingOutlet(on: loop), to: held, since: nil, now: now)
        for target in [entity, entity, held] { _ = streams.append(to: target, at: now) { self.frame($0) } }
        var expected = EntityStreams.Sweep()
        #expect(streams.evictExpiredHistory(now: now + 30) == expected)
        (expected.expiredEvents, expected.forgotten) = (3, 1)
        #expect(streams.evictExpiredHistory(now: now + 61) == expected)
        #expect(streams.figures == EntityStreams.Figures(streams: 1, keptEvents: 0, keptBytes: 0))
        #expect(streams.append(to: held, at: now + 61) { self.frame($0) } == 2, "the subscribed stream numbers on")
        #expect(streams.append(to: entity, at: now + 61) { self.frame($0) } == 1)
    }
}
