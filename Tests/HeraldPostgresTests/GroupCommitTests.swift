import Testing

@testable import HeraldPostgres

/// A group commit behind a reference, so `#expect` can call its mutating methods.
private final class Commits {
    var state: GroupCommit<String>
    init(inFlight: Int, events: Int) { state = GroupCommit(maximumInFlight: inFlight, maximumEvents: events) }
    func enqueue(_ request: String, events: Int = 1) -> [String]? { state.enqueue(request, events: events) }
    func finished() -> [String]? { state.finished() }
}

@Suite struct GroupCommitTests {
    @Test func aPublishAloneStartsAtOnce() {
        let commits = Commits(inFlight: 2, events: 100)
        #expect(commits.enqueue("a") == ["a"])
        #expect(commits.enqueue("b") == ["b"])
        #expect(commits.state.inFlight == 2)
        #expect(commits.finished() == nil)
        #expect(commits.finished() == nil)
        #expect(commits.state.inFlight == 0)
    }

    @Test func publishesThatWaitGoTogetherInArrivalOrder() {
        let commits = Commits(inFlight: 1, events: 100)
        #expect(commits.enqueue("a") == ["a"])
        for request in ["b", "c", "d"] { #expect(commits.enqueue(request) == nil) }
        #expect(commits.state.waitingCount == 3)
        #expect(commits.finished() == ["b", "c", "d"])
        #expect(commits.enqueue("e") == nil)
        #expect(commits.finished() == ["e"])
        #expect(commits.finished() == nil)
    }

    @Test func aTransactionTakesAtMostTheEventBoundButAPublishGoesWhole() {
        let commits = Commits(inFlight: 1, events: 10)
        #expect(commits.enqueue("first", events: 1) == ["first"])
        #expect(commits.enqueue("a", events: 4) == nil)
        #expect(commits.enqueue("b", events: 6) == nil)
        #expect(commits.enqueue("c", events: 1) == nil)
        #expect(commits.enqueue("huge", events: 50) == nil)
        #expect(commits.enqueue("d", events: 1) == nil)
        #expect(commits.finished() == ["a", "b"])
        #expect(commits.finished() == ["c"])
        #expect(commits.finished() == ["huge"])
        #expect(commits.finished() == ["d"])
        #expect(commits.finished() == nil)
    }

    /// Thousands wait in turn: each comes out once, in order, whatever was dropped from the front.
    @Test func aLongQueueKeepsItsOrder() {
        let commits = Commits(inFlight: 1, events: 7)
        #expect(commits.enqueue("start") == ["start"])
        let requests = (0..<5_000).map(String.init)
        for request in requests { #expect(commits.enqueue(request) == nil) }
        var written: [String] = []
        while let batch = commits.finished() {
            #expect(batch.count == 7 || written.count + batch.count == requests.count)
            written += batch
        }
        #expect(written == requests)
    }
}
