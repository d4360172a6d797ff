import Histogram
import NIOCore

/// What the publish phase did.
struct PublishSummary: Sendable {
    /// From the first publish to the end of the schedule.
    var seconds: Double
    /// Fixed rate: publishes that came due; closed loop: equal to `sent`.
    var scheduled: Int
    var sent: Int
    /// Answered with a non-2xx status.
    var failed: Int
    /// Got no answer (connection refused, reset, timed out).
    var errors: Int
    /// Fixed rate: came due but were never sent (the backlog overflowed or the time was up).
    var skipped: Int
    /// Closed loop: publishes that released the window by timing out instead of completing.
    var timedOut: Int
    var statuses: [Int: Int]
    /// Expected deliveries of each publish index; -1 when unknown (the publish got no answer).
    var expected: [Int32]
    /// Fixed rate: due time → send time, µs.
    var lag: Histogram<UInt64>
}

/// The publish phase, confined to one event loop: keeps `publishConnections` HTTP/1.1 keep-alive
/// connections, one request in flight on each, and sends publishes on a fixed schedule (`rate R`)
/// or in a closed loop (`rate max`: `window` publishes outstanding until their deliveries arrive).
/// Entities are chosen round-robin. With `eventsPerPublish` above 1, each request is a
/// `POST /events` batch of that many events (each its own publish index, as the report counts
/// events); the schedule then sends one request per that many events. The connections take
/// `publishServers` in turn when there are some.
final class Publisher: PublishConnectionOwner {
    private let run: BenchRun
    let eventLoop: any EventLoop
    private let done: EventLoopPromise<PublishSummary>
    private var connections: [PublishConnection] = []
    private var idle: [PublishConnection] = []
    private var startNanos: UInt64 = 0
    private var endNanos: UInt64 = 0
    private var stoppedNanos: UInt64 = 0
    private var running = false
    private var finished = false
    private var inFlight = 0
    private var nextEntity = 0
    private var timer: Scheduled<Void>?

    // Fixed rate.
    private var intervalNanos: Double = 0
    private var backlogLimit = 1000
    private var scheduled = 0
    private var nextSlot = 0

    // Closed loop: publish index → deadline.
    private var outstanding: [Int: UInt64] = [:]

    // Results.
    private var expected: [Int32] = []
    private var failed = 0
    private var errors = 0
    private var skipped = 0
    private var timedOut = 0
    private var statuses: [Int: Int] = [:]
    private var lag = LoopState.makeHistogram()

    init(run: BenchRun, eventLoop: any EventLoop) {
        self.run = run
        self.eventLoop = eventLoop
        self.done = eventLoop.makePromise()
    }

    /// Publishes for the configured duration; the future completes once every request was answered
    /// (or failed) after the schedule ended.
    func start() -> EventLoopFuture<PublishSummary> {
        let configuration = run.configuration
        let count = configuration.rate == .max ? max(configuration.publishConnections, configuration.window) : configuration.publishConnections
        connections = (0..<count).map {
            PublishConnection(publisher: self, run: run, endpoint: run.publishEndpoints[$0 % run.publishEndpoints.count], eventLoop: eventLoop)
        }
        idle = connections
        startNanos = Self.now
        endNanos = startNanos + UInt64(configuration.duration.nanoseconds)
        running = true
        switch configuration.rate {
        case .perSecond(let rate):
            intervalNanos = 1_000_000_000 / rate * Double(configuration.eventsPerPublish)
            backlogLimit = max(1000, Int(rate) / configuration.eventsPerPublish)
            fixedRateTick()
        case .max:
            pump()
            closedLoopTick()
        case .idle:
            stop(now: startNanos)
        }
        return done.futureResult
    }

    // MARK: - Called by the connections and the ledger

    /// A publish request (of the events `indices`) was answered with `status`.
    func answered(_ connection: PublishConnection, indices: [Int], status: Int, seq: Int?) {
        inFlight -= 1
        statuses[status, default: 0] += 1
        if !(200..<300).contains(status) {
            failed += indices.count
            for index in indices {
                expected[index] = 0
                outstanding.removeValue(forKey: index)
            }
        }
        idle.append(connection)
        resume()
    }

    /// A publish request got no answer; the connection rejoins the pool after a short pause.
    func failedTransport(_ connection: PublishConnection, indices: [Int]) {
        inFlight -= 1
        errors += indices.count
        for index in indices {
            expected[index] = -1
            outstanding.removeValue(forKey: index)
        }
        eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(50)) { [self] in
            guard !finished else { return }
            idle.append(connection)
            resume()
        }
        resume()
    }

    /// Closed loop: the last expected delivery of publish `index` arrived.
    func publishCompleted(_ index: Int) {
        guard outstanding.removeValue(forKey: index) != nil else { return }
        if running { pump() }
    }

    // MARK: - Pacing

    private static var now: UInt64 { NIODeadline.now().uptimeNanoseconds }

    private func resume() {
        guard running else {
            finishIfIdle()
            return
        }
        switch run.configuration.rate {
        case .perSecond: dispatchDue(now: Self.now)
        case .max: pump()
        case .idle: break
        }
    }

    private func fixedRateTick() {
        let now = Self.now
        guard now < endNanos else {
            skipped += scheduled - nextSlot
            nextSlot = scheduled
            stop(now: now)
            return
        }
        scheduled = max(scheduled, Int(Double(now - startNanos) / intervalNanos) + 1)
        dispatchDue(now: now)
        let nextDue = startNanos + UInt64(Double(scheduled) * intervalNanos)
        let at = min(max(nextDue, now + 100_000), endNanos)
        timer = eventLoop.assumeIsolated().scheduleTask(deadline: .uptimeNanoseconds(at)) { [self] in fixedRateTick() }
    }

    private func dispatchDue(now: UInt64) {
        if scheduled - nextSlot > backlogLimit {
            skipped += scheduled - nextSlot - backlogLimit
            nextSlot = scheduled - backlogLimit
        }
        while nextSlot < scheduled, let connection = idle.popLast() {
            let due = startNanos + UInt64(Double(nextSlot) * intervalNanos)
            lag.record(min(now > due ? (now - due) / 1000 : 0, LoopState.highestMicros))
            nextSlot += 1
            send(on: connection, now: now)
        }
    }

    private func pump() {
        let now = Self.now
        guard now < endNanos else {
            stop(now: now)
            return
        }
        while outstanding.count < run.configuration.window, let connection = idle.popLast() {
            send(on: connection, now: now)
        }
    }

    /// Closed loop: every 50 ms, publishes past their deadline stop holding the window.
    private func closedLoopTick() {
        guard running else { return }
        let now = Self.now
        let late = outstanding.filter { $0.value <= now }.map(\.key)
        for index in late { outstanding.removeValue(forKey: index) }
        timedOut += late.count
        pump()
        if running {
            timer = eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(50)) { [self] in closedLoopTick() }
        }
    }

    private func send(on connection: PublishConnection, now: UInt64) {
        let configuration = run.configuration
        var events: [(index: Int, entity: Int)] = []
        for _ in 0..<configuration.eventsPerPublish {
            let index = expected.count
            let entity = nextEntity
            nextEntity = (nextEntity + 1) % configuration.entities
            let target = run.subscriberCount(entity: entity)
            expected.append(Int32(clamping: target))
            if let ledger = run.ledger {
                if outstanding.removeValue(forKey: index - DeliveryLedger.slotCount) != nil { timedOut += 1 }
                ledger.arm(index: index, target: target)
                if target > 0 { outstanding[index] = now + UInt64(configuration.publishTimeout.nanoseconds) }
            }
            events.append((index, entity))
        }
        inFlight += 1
        connection.send(events)
    }

    private func stop(now: UInt64) {
        guard running else { return }
        running = false
        stoppedNanos = now
        timer?.cancel()
        finishIfIdle()
    }

    private func finishIfIdle() {
        guard !running, !finished, inFlight == 0 else { return }
        finished = true
        for connection in connections { connection.close() }
        connections.removeAll()
        idle.removeAll()
        let sent = expected.count
        done.succeed(
            PublishSummary(
                seconds: Double(stoppedNanos - startNanos) / 1e9,
                scheduled: run.configuration.rate == .max ? sent : scheduled * run.configuration.eventsPerPublish,
                sent: sent,
                failed: failed,
                errors: errors,
                skipped: skipped * run.configuration.eventsPerPublish,
                timedOut: timedOut,
                statuses: statuses,
                expected: expected,
                lag: lag
            )
        )
    }
}
