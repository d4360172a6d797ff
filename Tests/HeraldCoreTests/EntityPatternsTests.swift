import HeraldCore
import Testing

@Suite struct EntityPatternsTests {
    private func allows(_ patterns: [String], _ entity: String) -> Bool {
        EntityPatterns(patterns).allows(EntityID(entity)!)
    }

    @Test func exactIdsAndStarPatterns() {
        let patterns = ["order-*", "user-42", "*-draft", "a*b*c"]
        #expect(allows(patterns, "order-7"))
        #expect(allows(patterns, "order-"))
        #expect(!allows(patterns, "orders"))
        #expect(allows(patterns, "user-42"))
        #expect(!allows(patterns, "user-420"))
        #expect(allows(patterns, "memo-draft"))
        #expect(allows(patterns, "aXbYc") && allows(patterns, "abc") && allows(patterns, "abbcc"))
        #expect(!allows(patterns, "acb"))
        #expect(allows(["*"], "anything"))
        #expect(!allows([], "anything"))
        // Only `*` is special.
        #expect(!allows(["order-?"], "order-7") && allows(["order-?"], "order-?"))
    }

    @Test func aRefusedEntityIsForbiddenAndARefreshChangesWhatIsAllowed() {
        var machine = SubscriptionRules(maxSubscriptions: 10, allowedEntities: EntityPatterns(["order-*"]))
        #expect(machine.subscribeRequested(EntityID("order-1")!) == .subscribe)
        #expect(machine.subscribeRequested(EntityID("user-1")!) == .refuse(.forbidden))
        // The new claim no longer allows order-1: that subscription ends.
        let ended = machine.tokenRefreshed(allowedEntities: EntityPatterns(["user-*"]))
        #expect(ended == [EntityID("order-1")!])
        #expect(machine.subscribeRequested(EntityID("user-1")!) == .subscribe)
        #expect(machine.subscriptions == [EntityID("user-1")!])
        // Off: anything goes.
        var open = SubscriptionRules(maxSubscriptions: 10)
        #expect(open.subscribeRequested(EntityID("user-1")!) == .subscribe)
    }
}
