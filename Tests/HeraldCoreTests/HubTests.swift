import HeraldCore
import NIOCore
import Testing

@Suite struct HubTests {
    private let frame = ByteBuffer(string: "push")

    @Test func deliversOnlyToSubscribersOfTheEntity() async {
        let hub = Hub(shardCount: 4)
        let (a, b) = (Mailbox(connectionID: .next(), capacity: 100), Mailbox(connectionID: .next(), capacity: 100))
        hub.connect(a, user: UserID("u1")!)
        hub.connect(b, user: UserID("u2")!)
        hub.subscribe(a, to: EntityID("order-1")!)
        hub.subscribe(a, to: EntityID("order-1")!)  // idempotent
        hub.subscribe(b, to: EntityID("order-2")!)
        #expect(hub.subscriptions == 2)
        #expect(hub.entities == 2)
        #expect(hub.deliver(frame, toSubscribersOf: EntityID("order-1")!) == Delivery(delivered: 1))
        #expect(hub.deliver(frame, toSubscribersOf: EntityID("nobody")!) == Delivery())
        #expect(await a.next() == .frames([frame]))
        #expect(await b.nextIfQueuedForTests() == nil)
    }

    @Test func deliversToEveryConnectionOfAUser() async {
        let hub = Hub(shardCount: 4)
        let user = UserID("u1")!
        let mailboxes = (0..<3).map { _ in Mailbox(connectionID: .next(), capacity: 100) }
        for mailbox in mailboxes { hub.connect(mailbox, user: user) }
        hub.connect(Mailbox(connectionID: .next(), capacity: 100), user: UserID("other")!)
        #expect(hub.deliver(frame, toUser: user) == Delivery(delivered: 3))
        for mailbox in mailboxes { #expect(await mailbox.next() == .frames([frame])) }
    }

    @Test func disconnectRemovesEverySubscription() {
        let hub = Hub(shardCount: 4)
        let mailbox = Mailbox(connectionID: .next(), capacity: 100)
        let entities = ["a", "b", "c"].map { EntityID($0)! }
        hub.connect(mailbox, user: UserID("u")!)
        for entity in entities { hub.subscribe(mailbox, to: entity) }
        hub.disconnect(mailbox, user: UserID("u")!, subscriptions: entities)
        #expect(hub.subscriptions == 0)
        #expect(hub.entities == 0)
        #expect(hub.connections == 0)
        #expect(hub.deliver(frame, toUser: UserID("u")!) == Delivery())
    }

    @Test func slowConsumersAreCountedAsRefused() {
        let hub = Hub(shardCount: 4)
        let small = Mailbox(connectionID: .next(), capacity: 3)
        hub.connect(small, user: UserID("u")!)
        hub.subscribe(small, to: EntityID("e")!)
        #expect(hub.deliver(frame, toSubscribersOf: EntityID("e")!) == Delivery(refused: 1))
        #expect(small.closeReason == .slowConsumer)
    }
}

extension Mailbox {
    /// What is queued right now, without waiting: finishing first makes `next()` return at once.
    fileprivate func nextIfQueuedForTests() async -> [ByteBuffer]? {
        finish()
        if case .frames(let frames) = await next() { return frames }
        return nil
    }
}
