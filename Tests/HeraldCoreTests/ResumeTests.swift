import HeraldCore
import NIOCore
import NIOEmbedded
import NIOPosix
import Testing

/// `subscribe` with `since` through a session and the memory broker: ack, the missed events, then live ones.
@Suite struct ResumeTests {
    private let entity = EntityID("order-7")!

    private func publish(_ broker: MemoryBroker, count: Int) async throws {
        for _ in 0..<count { _ = try await broker.publish(.entityUpdated(EntityUpdate(entityID: entity, message: "m"))) }
    }

    private func subscribe(_ session: SessionRunner, since: Int, epoch: String? = nil) {
        let epochField = epoch.map { #","epoch":"\#($0)""# } ?? ""
        session.receive(text: #"{"action":"subscribe","entityId":"order-7","since":\#(since)\#(epochField)}"#)
    }

    /// Per frame: "ack:<recovered>" for the ack, the `seq` for a push.
    private func received(_ outlet: RecordingOutlet) -> [String] {
        outlet.texts.map { text in
            let object = JSON.parse(text)
            if object?["type"]?.stringValue == "subscribed" { return "ack:\(object?["recovered"] == .bool(true))" }
            guard case .int(let seq)? = object?["seq"] else { return text }
            return String(seq)
        }
    }

    @Test func replaysWhatWasMissedThenGoesLiveWithAnInterleavedPublish() async throws {
        let loop = EmbeddedEventLoop()
        let hub = Hub(shardCount: 2)
        let broker = MemoryBroker(hub: hub)
        try await publish(broker, count: 5)
        let outlet = RecordingOutlet(on: loop)
        let session = SessionRunner(userID: UserID("u")!, outlet: outlet, hub: hub, broker: broker, maxSubscriptions: 10)
        subscribe(session, since: 2)
        // Published after the subscription was registered, before the loop ran: live, after the replay.
        try await publish(broker, count: 1)
        #expect(received(outlet) == ["ack:true", "3", "4", "5"])
        loop.run()
        try await publish(broker, count: 1)
        loop.run()
        #expect(received(outlet) == ["ack:true", "3", "4", "5", "6", "7"])
        #expect(JSON.parse(outlet.texts[0])?["epoch"]?.stringValue?.isEmpty == false)
        // Subscribing again while live replays nothing: the connection missed nothing.
        subscribe(session, since: 0)
        #expect(received(outlet).suffix(1) == ["ack:true"])
    }

    @Test func tooFarBehindIsNotRecoveredAndGetsTheKeptTail() async throws {
        let loop = EmbeddedEventLoop()
        let hub = Hub(shardCount: 2)
        let broker = MemoryBroker(hub: hub, history: EntityHistory.Limits(size: 3))
        try await publish(broker, count: 5)
        let outlet = RecordingOutlet(on: loop)
        let session = SessionRunner(userID: UserID("u")!, outlet: outlet, hub: hub, broker: broker, maxSubscriptions: 10)
        subscribe(session, since: 1)
        #expect(received(outlet) == ["ack:false", "3", "4", "5"])
    }

    @Test func anotherEpochIsNotRecovered() async throws {
        let loop = EmbeddedEventLoop()
        let hub = Hub(shardCount: 2)
        let broker = MemoryBroker(hub: hub)
        try await publish(broker, count: 5)
        let (stale, current) = (RecordingOutlet(on: loop), RecordingOutlet(on: loop))
        subscribe(
            SessionRunner(userID: UserID("u")!, outlet: stale, hub: hub, broker: broker, maxSubscriptions: 10),
            since: 2,
            epoch: "before-restart"
        )
        let epoch = try #require(JSON.parse(stale.texts[0])?["epoch"]?.stringValue, "the ack names the stream's epoch")
        subscribe(SessionRunner(userID: UserID("u")!, outlet: current, hub: hub, broker: broker, maxSubscriptions: 10), since: 2, epoch: epoch)
        #expect(received(stale) == ["ack:false"])
        #expect(received(current) == ["ack:true", "3", "4", "5"])
    }

    /// Two publishers race with 100 resuming subscribers on two real event loops: every subscriber
    /// gets every `seq` after its `since` exactly once, in order.
    @Test func resumeRacingWithPublishesHasNoGapAndNoDuplicate() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let hub = Hub(shardCount: 4)
        let broker = MemoryBroker(hub: hub, history: EntityHistory.Limits(size: 5_000))
        let subscribers = (0..<100).map { index in
            let outlet = RecordingOutlet(on: group.next())
            let session = SessionRunner(userID: UserID("u\(index)")!, outlet: outlet, hub: hub, broker: broker, maxSubscriptions: 10)
            return (outlet, session, since: index * 5)
        }
        try await publish(broker, count: 500)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            for _ in 0..<2 {
                tasks.addTask {
                    for _ in 0..<750 {
                        try await publish(broker, count: 1)
                        await Task.yield()
                    }
                }
            }
            tasks.addTask {
                // Subscribes spread over the publishing, each on its outlet's event loop.
                for (outlet, session, since) in subscribers {
                    outlet.eventLoop.execute { subscribe(session, since: since) }
                    await Task.yield()
                }
            }
            try await tasks.waitForAll()
        }
        // Everything is queued; one more turn of each loop drains it.
        for loop in group.makeIterator() { try await loop.submit {}.get() }
        for (outlet, _, since) in subscribers {
            #expect(received(outlet) == ["ack:true"] + (since + 1...2_000).map(String.init))
        }
        try await group.shutdownGracefully()
    }
}
