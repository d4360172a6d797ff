import HeraldCore
import NIOEmbedded
import Testing

/// One subscribe asks the hook at most as many questions as the connection has room for, none
/// when it is full, none about what it already knows; its answers are remembered within a bound.
@Suite struct HookQuestionsTests {
    private func ids(_ names: String...) -> [EntityID] { names.map { EntityID($0)! } }
    private func ids(_ prefix: String, _ range: Range<Int>) -> [EntityID] { range.map { EntityID("\(prefix)\($0)")! } }

    @Test func onlyAsManyQuestionsAsThereIsRoom() {
        var machine = SubscriptionRules(maxSubscriptions: 10, allowedEntities: EntityPatterns(["order-*"]), asksHook: true)
        for entity in ids("s-", 0..<6) { #expect(machine.subscribeRequested(entity, hookAnswer: true) == .subscribe) }
        // Room for 4: the subscribed s-1 and the claim's order-1 need no question; order-1 takes a place.
        let (ask, known) = machine.hookQuestions(for: ids("s-1", "order-1") + ids("h-", 0..<100), now: 0)
        #expect(ask == ids("h-", 0..<3) && known.isEmpty)
        // Ids never asked about had no room: subscription_limit, not forbidden.
        #expect(machine.subscribeRequested(EntityID("h-50")!, hookAnswer: nil) == .refuse(.subscriptionLimit))
        #expect(machine.subscribeRequested(EntityID("h-0")!, hookAnswer: false) == .refuse(.forbidden))
        // Full: no question at all.
        for entity in ids("t-", 0..<4) { _ = machine.subscribeRequested(entity, hookAnswer: true) }
        #expect(machine.subscriptions.count == 10)
        #expect(machine.hookQuestions(for: ids("h-", 0..<100), now: 0).ask.isEmpty)
    }

    @Test func rememberedAnswersAreNotAskedAgainUntilTheyExpire() {
        var machine = SubscriptionRules(maxSubscriptions: 10, asksHook: true, hookCacheTTL: .seconds(60))
        machine.hookAnswered([EntityID("no-1")!: false, EntityID("ok-1")!: true], now: 0)
        let (ask, known) = machine.hookQuestions(for: ids("no-1", "ok-1", "new"), now: 59_000_000_000)
        #expect(ask == ids("new") && known == [EntityID("no-1")!: false, EntityID("ok-1")!: true])
        #expect(machine.hookQuestions(for: ids("no-1", "ok-1"), now: 60_000_000_000).ask == ids("no-1", "ok-1"))
    }

    /// Today's per-connection cache was pruned only past four times the subscription limit, and
    /// only of expired answers: a connection asking about ever-new ids grew it without end.
    @Test func theAnswerCacheIsBounded() {
        var answers = HookAnswers(capacity: 20, ttl: .seconds(60))
        for index in 0..<10_000 { answers.record(EntityID("e\(index)")!, allowed: index.isMultiple(of: 2), now: UInt64(index)) }
        #expect(answers.count == 20)
        #expect(answers.answer(for: EntityID("e9999")!, now: 10_000) == false)
        #expect(answers.answer(for: EntityID("e9980")!, now: 10_000) == true)
        #expect(answers.answer(for: EntityID("e9979")!, now: 10_000) == nil)  // the oldest went first
        // Recording the same id again keeps one answer (the newest), and expiry empties it.
        for _ in 0..<1_000 { answers.record(EntityID("same")!, allowed: true, now: 20_000) }
        #expect(answers.count == 20 && answers.answer(for: EntityID("same")!, now: 20_001) == true)
        answers.record(EntityID("last")!, allowed: false, now: 61_000_020_001)
        #expect(answers.count == 1)
    }

    @Test func aSessionRefusesAListLongerThanTheLimitWithOneError() {
        let loop = EmbeddedEventLoop()
        let hub = Hub(shardCount: 2)
        let outlet = RecordingOutlet(on: loop)
        let session = SessionRunner(outlet: outlet, hub: hub, broker: MemoryBroker(hub: hub), maxSubscriptions: 3, asksHook: true)
        let list = (0..<3_000).map { "\"e\($0)\"" }.joined(separator: ",")
        #expect(session.receive(text: #"{"action":"subscribe","entityIds":[\#(list)],"requestId":1}"#).isEmpty)
        #expect(session.receive(text: #"{"action":"unsubscribe","entityIds":["a","b","c","d"]}"#).isEmpty)
        #expect(
            outlet.texts == [
                #"{"type":"error","code":"invalid_message","message":"entityIds lists 3000 ids; at most 3 per message (the subscription limit)","requestId":1}"#,
                #"{"type":"error","code":"invalid_message","message":"entityIds lists 4 ids; at most 3 per message (the subscription limit)"}"#,
            ]
        )
        // Exactly the limit is fine, and asks the hook about each.
        #expect(session.receive(text: #"{"action":"subscribe","entityIds":["a","b","c"]}"#) == [.askHook(ids("a", "b", "c"))])
        session.end()
    }
}
