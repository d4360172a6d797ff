import Foundation
import HeraldCore
import NIOEmbedded
import Synchronization
import Testing

/// An entity with no subscriber and no kept event is forgotten (PROTOCOL.md §4): its stream starts again
/// at `seq` 1 under a new epoch, and nobody resuming from the old stream is given a replay of the new one.
@Suite struct ForgettingTests {
    private let entity = EntityID("order-7")!
    private let loop = EmbeddedEventLoop()
    private let clock = TestClock()

    private func broker(_ hub: Hub, size: Int = 100, ttl: Duration = .seconds(60)) -> MemoryBroker {
        MemoryBroker(hub: hub, history: EntityHistory.Limits(size: size, ttl: ttl), shardCount: 4) { [clock] in clock.now }
    }

    private func advance(_ seconds: TimeInterval) {
        clock.advance(seconds)
    }

    private func publish(_ broker: MemoryBroker) async throws -> Int? {
        try await broker.publish(.entityUpdated(EntityUpdate(entityID: entity, message: "m"))).seq
    }

    private func session(_ hub: Hub, _ broker: MemoryBroker) -> (SessionRunner, RecordingOutlet) {
        let outlet = RecordingOutlet(on: loop)
        return (SessionRunner(outlet: outlet, hub: hub, broker: broker, maxSubscriptions: 10), outlet)
    }

    private func send(_ session: SessionRunner, _ text: String) {
        session.receive(text: text)
    }

    /// The frames sent so far, as JSON.
    private func frames(_ outlet: RecordingOutlet) -> [JSONValue] {
        outlet.texts.compactMap { JSON.parse($0) }
    }

    @Test func anEntityNobodyHoldsStartsAgainOnceItsHistoryExpired() async throws {
        let hub = Hub(shardCount: 4)
        let broker = broker(hub)
        #expect(try await publish(broker) == 1)
        #expect(try await publish(broker) == 2)
        advance(61)
        broker.evictExpiredHistory()
        #expect(try await publish(broker) == 1, "forgotten by the sweep: numbered from 1 again")
    }

    @Test func aSubscriberKeepsAStreamWhoseEventsExpired() async throws {
        let hub = Hub(shardCount: 4)
        let broker = broker(hub)
        let (session, _) = session(hub, broker)
        send(session, #"{"action":"subscribe","entityId":"order-7"}"#)
        #expect(try await publish(broker) == 1)
        advance(61)
        broker.evictExpiredHistory()
        #expect(try await publish(broker) == 2, "the memory broker never forgets a stream that has subscribers")
    }

    @Test func withHistoryOffAnEntityWithoutSubscribersIsNotKept() async throws {
        let hub = Hub(shardCount: 4)
        let broker = broker(hub, size: 0)
        #expect(try await publish(broker) == 1)
        #expect(try await publish(broker) == 1)
    }

    @Test func theLastUnsubscribeForgetsAnEntityWithNothingKept() async throws {
        let hub = Hub(shardCount: 4)
        let broker = broker(hub, size: 0)
        let (first, _) = session(hub, broker)
        let (second, _) = session(hub, broker)
        send(first, #"{"action":"subscribe","entityId":"order-7"}"#)
        send(second, #"{"action":"subscribe","entityId":"order-7"}"#)
        #expect(try await publish(broker) == 1)
        #expect(try await publish(broker) == 2)
        send(first, #"{"action":"unsubscribe","entityId":"order-7"}"#)
        #expect(try await publish(broker) == 3, "one subscriber is left")
        send(second, #"{"action":"unsubscribe","entityId":"order-7"}"#)
        #expect(try await publish(broker) == 1)
    }

    @Test func aDisconnectForgetsAnEntityWithNothingKept() async throws {
        let hub = Hub(shardCount: 4)
        let broker = broker(hub, size: 0)
        let (session, _) = session(hub, broker)
        send(session, #"{"action":"subscribe","entityIds":["order-7","other"]}"#)
        #expect(try await publish(broker) == 1)
        #expect(try await publish(broker) == 2)
        session.end()
        #expect(try await publish(broker) == 1)
    }

    @Test func aStreamThatStartsAgainHasANewEpoch() async throws {
        let hub = Hub(shardCount: 4)
        let broker = broker(hub)
        let (first, outlet) = session(hub, broker)
        send(first, #"{"action":"subscribe","entityId":"order-7"}"#)
        #expect(try await publish(broker) == 1)
        first.end()
        advance(61)
        broker.evictExpiredHistory()
        let (second, again) = session(hub, broker)
        send(second, #"{"action":"subscribe","entityId":"order-7"}"#)
        let before = try #require(frames(outlet).first?["epoch"]?.stringValue)
        let after = try #require(frames(again).first?["epoch"]?.stringValue)
        #expect(before != after)
    }

    /// A client saw 1 and 2 of the old stream; the new stream has 1…3. Its `since: 2` must not be
    /// answered with the new stream's 3.
    @Test func resumingWithTheOldEpochIsNotRecoveredAndReplaysNothing() async throws {
        let hub = Hub(shardCount: 4)
        let broker = broker(hub)
        let (first, outlet) = session(hub, broker)
        send(first, #"{"action":"subscribe","entityId":"order-7"}"#)
        for _ in 1...2 { _ = try await publish(broker) }
        loop.run()
        let oldEpoch = try #require(frames(outlet).first?["epoch"]?.stringValue)
        #expect(frames(outlet).compactMap { $0["seq"] } == [.int(1), .int(2)])
        first.end()
        advance(61)
        broker.evictExpiredHistory()
        for seq in 1...3 { #expect(try await publish(broker) == seq) }

        let (resumed, resumedOutlet) = session(hub, broker)
        send(resumed, #"{"action":"subscribe","entityId":"order-7","since":2,"epoch":"\#(oldEpoch)"}"#)
        let answer = frames(resumedOutlet)
        #expect(answer.count == 1, "no replay from the other stream: \(answer)")
        #expect(answer.first?["recovered"] == .bool(false))
        #expect(answer.first?["epoch"] != .string(oldEpoch))
    }

    /// Without `epoch`, `since` alone decides (as before): beyond the new stream's latest is a reset.
    @Test func resumingWithoutAnEpochIsJudgedBySinceAlone() async throws {
        let hub = Hub(shardCount: 4)
        let broker = broker(hub)
        for _ in 1...5 { _ = try await publish(broker) }
        advance(61)
        broker.evictExpiredHistory()
        for _ in 1...3 { _ = try await publish(broker) }
        let (beyond, beyondOutlet) = session(hub, broker)
        send(beyond, #"{"action":"subscribe","entityId":"order-7","since":5}"#)
        #expect(frames(beyondOutlet).map { $0["recovered"] } == [.bool(false)])
        let (within, withinOutlet) = session(hub, broker)
        send(within, #"{"action":"subscribe","entityId":"order-7","since":1}"#)
        #expect(frames(withinOutlet).map { $0["recovered"] ?? $0["seq"] } == [.bool(true), .int(2), .int(3)])
    }
}

/// A clock a test moves by hand.
final class TestClock: Sendable {
    private let date = Mutex(Date(timeIntervalSince1970: 1_795_000_000))

    var now: Date { date.withLock { $0 } }

    func advance(_ seconds: TimeInterval) {
        date.withLock { $0 += seconds }
    }
}
