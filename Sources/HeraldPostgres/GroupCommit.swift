/// Which publishes of a node go to the database together (group commit): a publish that comes
/// while `maximumInFlight` transactions are already on their way waits, and the next transaction
/// to start takes every waiting publish, in arrival order, up to `maximumEvents` events. Under
/// load many publishes share one transaction, one commit and one `NOTIFY` statement; alone, a
/// publish starts at once. A value-type state machine: it hands out batches, the broker writes them.
struct GroupCommit<Request> {
    /// Transactions on their way at once.
    let maximumInFlight: Int
    /// Events in one transaction (a publish larger than that still goes whole, on its own).
    let maximumEvents: Int

    private var waiting: [(request: Request, events: Int)] = []
    private var start = 0
    private(set) var inFlight = 0

    init(maximumInFlight: Int, maximumEvents: Int) {
        precondition(maximumInFlight > 0 && maximumEvents > 0)
        self.maximumInFlight = maximumInFlight
        self.maximumEvents = maximumEvents
    }

    /// Publishes waiting for a transaction.
    var waitingCount: Int { waiting.count - start }

    /// A publish of `events` events arrived; returns the batch to write now (it among them), or
    /// nil when it waits for a transaction to end.
    mutating func enqueue(_ request: Request, events: Int) -> [Request]? {
        waiting.append((request, events))
        return nextBatch()
    }

    /// A batch was written (committed or failed); returns the next batch to write, if any.
    mutating func finished() -> [Request]? {
        inFlight -= 1
        return nextBatch()
    }

    private mutating func nextBatch() -> [Request]? {
        guard inFlight < maximumInFlight, start < waiting.count else { return nil }
        var batch: [Request] = []
        var events = 0
        while start < waiting.count, batch.isEmpty || events + waiting[start].events <= maximumEvents {
            batch.append(waiting[start].request)
            events += waiting[start].events
            start += 1
        }
        if start == waiting.count {
            waiting.removeAll(keepingCapacity: true)
            start = 0
        } else if start > 1_024 {
            waiting.removeFirst(start)
            start = 0
        }
        inFlight += 1
        return batch
    }
}
