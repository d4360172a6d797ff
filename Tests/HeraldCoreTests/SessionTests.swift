import HeraldCore
import NIOEmbedded
import Testing

/// A session run against the memory broker and the hub (`SessionRunner`), as the server runs it.
@Suite struct SessionTests {
    private let loop = EmbeddedEventLoop()

    private func session(hub: Hub = Hub(shardCount: 2), broker: MemoryBroker? = nil, maxSubscriptions: Int = 5) -> (SessionRunner, RecordingOutlet) {
        let outlet = RecordingOutlet(on: loop)
        let broker = broker ?? MemoryBroker(hub: hub)
        return (SessionRunner(outlet: outlet, hub: hub, broker: broker, maxSubscriptions: maxSubscriptions), outlet)
    }

    @Test func hundredAndFirstSubscriptionIsRefused() {
        var machine = SubscriptionRules(maxSubscriptions: 100)
        for index in 0..<100 { #expect(machine.subscribeRequested(EntityID("e\(index)")!) == .subscribe) }
        #expect(machine.subscribeRequested(EntityID("e5")!) == .acknowledge)
        #expect(machine.subscribeRequested(EntityID("e100")!) == .refuse(.subscriptionLimit))
        let first = machine.unsubscribeRequested(EntityID("e0")!)
        let second = machine.unsubscribeRequested(EntityID("e0")!)
        #expect(first && !second)
        #expect(machine.subscribeRequested(EntityID("e100")!) == .subscribe)
    }

    @Test func subscribeIsAcknowledgedPerEntityInOrder() throws {
        let hub = Hub(shardCount: 2)
        let broker = MemoryBroker(hub: hub)
        let (session, outlet) = session(hub: hub, broker: broker, maxSubscriptions: 2)
        #expect(session.receive(text: #"{"action":"subscribe","entityId":"z"}"#).isEmpty)
        #expect(session.receive(text: #"{"action":"subscribe","entityIds":["a","b"],"requestId":1}"#).isEmpty)
        // Each entity's stream has its own epoch.
        let epochs = outlet.texts.map { JSON.parse($0)?["epoch"]?.stringValue ?? "" }
        #expect(outlet.texts.count == 3 && epochs[0] != epochs[1])
        #expect(
            outlet.texts == [
                #"{"type":"subscribed","entityId":"z","recovered":true,"epoch":"\#(epochs[0])"}"#,
                #"{"type":"subscribed","entityId":"a","recovered":true,"epoch":"\#(epochs[1])","requestId":1}"#,
                #"{"type":"error","code":"subscription_limit","message":"limit of 2 subscriptions reached; unsubscribe from something first","requestId":1}"#,
            ]
        )
        #expect(hub.subscriptions == 2)
        session.end()
        #expect(hub.subscriptions == 0)
        #expect(hub.connections == 0)
    }

    @Test func refreshIsHandedToTheTransport() {
        let (session, _) = session()
        #expect(session.receive(text: #"{"action":"refresh","token":"t","requestId":"r"}"#) == [.verifyToken("t")])
    }

    @Test func entitiesOnlyTheHookCanAllowWaitForItInOrder() {
        let hub = Hub(shardCount: 2)
        let outlet = RecordingOutlet(on: loop)
        let session = SessionRunner(
            outlet: outlet,
            hub: hub,
            broker: MemoryBroker(hub: hub),
            maxSubscriptions: 10,
            allowedEntities: EntityPatterns(["order-*"]),
            asksHook: true
        )
        let questions = session.receive(text: #"{"action":"subscribe","entityIds":["order-1","x","y","x"],"requestId":7}"#)
        #expect(questions == [.askHook([EntityID("x")!, EntityID("y")!])])  // the claim allows order-1; x once
        #expect(outlet.texts.isEmpty)  // nothing answered before the hook has
        session.hookAnswered([EntityID("x")!: true])  // y: no answer, a refusal
        let answers = outlet.texts.map { JSON.parse($0)?["type"]?.stringValue == "subscribed" ? "ok" : JSON.parse($0)?["code"]?.stringValue ?? "?" }
        #expect(answers == ["ok", "ok", "forbidden", "ok"])
        #expect(session.subscriptions == [EntityID("order-1")!, EntityID("x")!])
        // Already subscribed: no question for the hook.
        #expect(session.receive(text: #"{"action":"subscribe","entityId":"x"}"#).isEmpty)
    }

    @Test func garbageAndPingsGetTheirFrames() {
        let (session, outlet) = session()
        session.receive(text: "nope")
        session.receive(text: #"{"action":"ping"}"#)
        let codes = outlet.texts.map { JSON.parse($0)?["code"]?.stringValue ?? JSON.parse($0)?["type"]?.stringValue }
        #expect(codes == ["invalid_json", "pong"])
    }
}
