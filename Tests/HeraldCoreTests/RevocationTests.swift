import HeraldCore
import Testing

/// A refreshed token's claim is the connection's authorisation from then on: the subscriptions it
/// no longer allows end, and authorisation is checked before an "already subscribed" ack.
@Suite struct RevocationTests {
    private func ids(_ names: String...) -> [EntityID] { names.map { EntityID($0)! } }

    @Test func aNarrowerClaimEndsWhatItNoLongerAllows() {
        var machine = SubscriptionRules(maxSubscriptions: 10, allowedEntities: EntityPatterns(["a", "b", "c-*"]))
        for entity in ids("c-2", "a", "c-1", "b") { #expect(machine.subscribeRequested(entity) == .subscribe) }
        // Ended in id order, whatever the order of subscribing.
        let ended = machine.tokenRefreshed(allowedEntities: EntityPatterns(["a"]))
        #expect(ended == ids("b", "c-1", "c-2"))
        #expect(machine.subscriptions == Set(ids("a")))
        #expect(machine.subscribeRequested(EntityID("b")!) == .refuse(.forbidden))
        #expect(machine.subscribeRequested(EntityID("a")!) == .acknowledge)
        // A claim that allows everything again ends nothing, and brings nothing back by itself.
        let none = machine.tokenRefreshed(allowedEntities: EntityPatterns(["*"]))
        #expect(none.isEmpty)
        #expect(machine.subscriptions == Set(ids("a")))
    }

    @Test func aTokenWithoutTheClaimEndsEverySubscription() {
        var machine = SubscriptionRules(maxSubscriptions: 10, allowedEntities: EntityPatterns(["a", "b"]))
        for entity in ids("a", "b") { _ = machine.subscribeRequested(entity) }
        let ended = machine.tokenRefreshed(allowedEntities: EntityPatterns([]))
        #expect(ended == ids("a", "b"))
        #expect(machine.subscriptions.isEmpty)
    }

    @Test func withoutClaimAuthorisationARefreshEndsNothing() {
        var machine = SubscriptionRules(maxSubscriptions: 10)
        for entity in ids("a", "b") { _ = machine.subscribeRequested(entity) }
        let ended = machine.tokenRefreshed(allowedEntities: nil)
        #expect(ended.isEmpty)
        #expect(machine.subscriptions == Set(ids("a", "b")))
    }

    /// With `claims+hook`, what the hook allowed stays (its answer does not depend on the token);
    /// what only the old claim allowed ends, and is asked about again when subscribed again.
    @Test func whatTheHookAllowedOutlivesTheClaim() {
        var machine = SubscriptionRules(maxSubscriptions: 10, allowedEntities: EntityPatterns(["claim-*"]), asksHook: true)
        #expect(machine.subscribeRequested(EntityID("claim-1")!) == .subscribe)
        #expect(machine.subscribeRequested(EntityID("hooked")!, hookAnswer: true) == .subscribe)
        let dropped = machine.tokenRefreshed(allowedEntities: EntityPatterns([]))
        #expect(dropped == ids("claim-1"))
        #expect(machine.subscriptions == Set(ids("hooked")))
        #expect(machine.subscribeRequested(EntityID("hooked")!) == .acknowledge)
        #expect(machine.hookQuestions(for: ids("hooked", "claim-1"), now: 0).ask == ids("claim-1"))
        // Unsubscribed, the hook's allowance goes with it: the next subscribe is judged afresh.
        #expect(machine.unsubscribeRequested(EntityID("hooked")!) == true)
        #expect(machine.subscribeRequested(EntityID("hooked")!, hookAnswer: false) == .refuse(.forbidden))
    }
}
