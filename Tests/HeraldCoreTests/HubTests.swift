import HeraldCore
import NIOCore
import NIOEmbedded
import Testing

@Suite struct HubTests {
    private let frame = WireFrame.text(ByteBuffer(string: "push"))

    @Test func deliversOnlyToSubscribersOfTheEntity() {
        let loop = EmbeddedEventLoop()
        let hub = Hub(shardCount: 4)
        let (a, b) = (RecordingOutlet(on: loop), RecordingOutlet(on: loop))
        hub.connect(a, user: UserID("u1")!)
        hub.connect(b, user: UserID("u2")!)
        hub.subscribe(a, to: EntityID("order-1")!)
        hub.subscribe(a, to: EntityID("order-1")!)  // idempotent
        hub.subscribe(b, to: EntityID("order-2")!)
        #expect(hub.subscriptions == 2)
        #expect(hub.entities == 2)
        #expect(hub.deliver(frame, toSubscribersOf: EntityID("order-1")!) == 1)
        #expect(hub.deliver(frame, toSubscribersOf: EntityID("nobody")!) == 0)
        #expect(a.frames.isEmpty)  // delivery happens on the outlet's event loop
        loop.run()
        #expect(a.frames == [frame])
        #expect(b.frames.isEmpty)
    }

    @Test func deliversToEveryConnectionOfAUser() {
        let loop = EmbeddedEventLoop()
        let hub = Hub(shardCount: 4)
        let user = UserID("u1")!
        let outlets = (0..<3).map { _ in RecordingOutlet(on: loop) }
        for outlet in outlets { hub.connect(outlet, user: user) }
        let other = RecordingOutlet(on: loop)
        hub.connect(other, user: UserID("other")!)
        #expect(hub.deliver(frame, toUser: user) == 3)
        loop.run()
        for outlet in outlets { #expect(outlet.frames == [frame]) }
        #expect(other.frames.isEmpty)
    }

    @Test func oneBatchPerEventLoopKeepsTheOrderOfDeliveries() {
        let (first, second) = (EmbeddedEventLoop(), EmbeddedEventLoop())
        let hub = Hub(shardCount: 4)
        let outlets = [RecordingOutlet(on: first), RecordingOutlet(on: second), RecordingOutlet(on: first)]
        for outlet in outlets {
            hub.connect(outlet, user: UserID("u")!)
            hub.subscribe(outlet, to: EntityID("e")!)
        }
        let frames = (1...3).map { WireFrame.text(ByteBuffer(string: "seq \($0)")) }
        for frame in frames { #expect(hub.deliver(frame, toSubscribersOf: EntityID("e")!) == 3) }
        first.run()
        #expect(outlets[0].frames == frames && outlets[2].frames == frames)
        #expect(outlets[1].frames.isEmpty)
        second.run()
        #expect(outlets[1].frames == frames)
    }

    @Test func pushesQueuedOnALoopAreWrittenBeforeTheFlush() {
        let loop = EmbeddedEventLoop()
        let hub = Hub(shardCount: 4)
        let outlet = RecordingOutlet(on: loop)
        hub.connect(outlet, user: UserID("u")!)
        hub.subscribe(outlet, to: EntityID("e")!)
        for index in 1...3 { hub.deliver(WireFrame.text(ByteBuffer(string: "\(index)")), toSubscribersOf: EntityID("e")!) }
        loop.run()
        // One drain: all three frames queued, then flushed, so the socket sees one write.
        #expect(outlet.calls.prefix(4) == ["write", "write", "write", "flush"])
        #expect(outlet.texts == ["1", "2", "3"])
    }

    @Test func unsubscribeTellsWhoIsLeftAndDisconnectRemovesTheConnection() {
        let loop = EmbeddedEventLoop()
        let hub = Hub(shardCount: 4)
        let (outlet, other) = (RecordingOutlet(on: loop), RecordingOutlet(on: loop))
        let entities = ["a", "b", "c"].map { EntityID($0)! }
        hub.connect(outlet, user: UserID("u")!)
        for entity in entities { hub.subscribe(outlet, to: entity) }
        hub.subscribe(other, to: entities[0])
        #expect(hub.subscriberCount(of: entities[0]) == 2)
        #expect(Set(hub.subscribedEntities()) == Set(entities))
        #expect(entities.map { hub.unsubscribe(outlet, from: $0) } == [1, 0, 0])
        #expect(hub.unsubscribe(outlet, from: entities[0]) == 1, "not subscribed: nothing changes")
        #expect(hub.unsubscribe(other, from: entities[0]) == 0)
        hub.disconnect(outlet, user: UserID("u")!)
        #expect(hub.subscriptions == 0)
        #expect(hub.entities == 0)
        #expect(hub.connections == 0)
        #expect(hub.deliver(frame, toUser: UserID("u")!) == 0)
    }

    @Test func closeAllReachesEveryConnection() {
        let loop = EmbeddedEventLoop()
        let hub = Hub(shardCount: 4)
        let outlets = (0..<5).map { _ in RecordingOutlet(on: loop) }
        for (index, outlet) in outlets.enumerated() { hub.connect(outlet, user: UserID("u\(index % 2)")!) }
        hub.closeAll(.goingAway)
        loop.run()
        for outlet in outlets { #expect(outlet.closes == [.goingAway]) }
    }

    /// Draining asks each connection once: one registered after `closeAll` (an upgrade that
    /// passed the gate as the drain began) is closed as it registers, not by asking everyone again.
    @Test func aConnectionRegisteredAfterCloseAllIsClosedAtOnce() {
        let loop = EmbeddedEventLoop()
        let hub = Hub(shardCount: 4)
        let early = RecordingOutlet(on: loop)
        hub.connect(early, user: UserID("u")!)
        hub.closeAll(.goingAway)
        let late = RecordingOutlet(on: loop)
        hub.connect(late, user: UserID("u")!)
        loop.run()
        #expect(early.closes == [.goingAway])
        #expect(late.closes == [.goingAway])
    }
}
