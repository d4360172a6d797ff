import Histogram
import NIOCore

/// The storm's figures (`BenchReport.storm`).
public struct StormReport: Sendable {
    /// Clients subscribed when the node went, and of them those that noticed within the loss timeout.
    public var clients = 0
    public var lost = 0
    /// How the first connections ended: close code → clients (1006: no close frame).
    public var lossCodes: [Int: Int] = [:]
    /// From `loseNode` to the last client noticing.
    public var lossSeconds = 0.0
    /// Herald: one publish per entity through the node before it goes (so every client has a `seq`),
    /// then `gapPublishes` per entity through the fresh node while the clients are away.
    public var warmUp = BatchOutcome()
    public var gap = BatchOutcome()
    /// From the reconnect's start to the last ack (Herald) or 101 (Nchan), and to the last client
    /// resumed (ack in and every missed event received).
    public var reconnectSeconds = 0.0
    public var resumeSeconds = 0.0
    public var resumed = 0
    /// Herald's acks: `recovered` true and false.
    public var recovered = 0
    public var notRecovered = 0
    /// Missed events over all clients: expected (each client's entity's last `seq` past its `since`),
    /// received, still missing, received twice, and `seq`s skipped over (out of order).
    public var eventsExpected = 0
    public var eventsReceived = 0
    public var eventsMissing = 0
    public var duplicates = 0
    public var skipped = 0
    /// Clients that did not resume, by reason.
    public var failureReasons: [String: Int] = [:]
    /// Reconnect TCP connect → ack/101, and reconnect start → each client resumed.
    public var handshake: BenchReport.Percentiles
    public var resume: BenchReport.Percentiles
    /// The fresh node's CPU from the reconnect's start until every client resumed, and per client.
    public var serverCPUSeconds: Double?
    public var serverCPUMicrosPerClient: Double?
    /// The generator's CPU share while the clients reconnected.
    public var generatorCPUPercent = 0.0

    /// Every client resumed, and got every missed event exactly once.
    public var complete: Bool {
        clients > 0 && resumed == clients && notRecovered == 0 && eventsMissing == 0 && duplicates == 0 && skipped == 0
    }
}

/// The reconnect storm (`BenchConfiguration.Storm`), after the publish phase:
/// 1. Herald: one publish per entity through the node under test, delivered to every client, so
///    that each resumes from a `seq` of its own;
/// 2. `loseNode` (SIGTERM); wait until every subscribed client has noticed (Herald: `1001`);
/// 3. Herald: `gapPublishes` per entity through the fresh node — the events the clients miss;
/// 4. every lost client reconnects to the fresh node at once (within `connectConcurrency`), Herald's
///    subscribing with `since` and `epoch`; a client has resumed when its ack and its entity's
///    last event are in. Each event is checked against the `seq` before it on its client.
/// The gap is made explicit (the clients wait for the gap's publishes to be answered before they
/// reconnect) so that every missed event must come from the replay, exactly once.
enum StormPhase {
    static func run(
        _ run: BenchRun,
        loops: [NIOLoopBound<LoopState>],
        progress: @Sendable (String) -> Void
    ) async throws -> StormReport {
        let configuration = run.configuration
        guard let storm = configuration.storm, let fresh = run.reconnect else { throw BenchError(.invalidConfiguration, "no storm configured") }
        let publisherLoop = loops[0].eventLoop
        var report = StormReport(handshake: .init(micros: LoopState.makeHistogram()), resume: .init(micros: LoopState.makeHistogram()))

        // (1) Every client gets a seq of its own.
        if configuration.target == .herald {
            progress("storm: one publish per entity through the node under test…")
            report.warmUp = try await publish(Array(0..<configuration.entities), to: run.primary, run: run, on: publisherLoop)
            let lastSeq = report.warmUp.lastSeq
            _ = try await waitFor(loops, within: configuration.drainTimeout + .seconds(5)) { loop in
                loop.stormClients.values.allSatisfy { !$0.isLive || ($0.lastSeq ?? 0) >= (lastSeq[$0.entity] ?? 0) }
            }
        }

        // (2) The node goes.
        var live = 0
        var lostBefore = 0
        for state in loops {
            let (count, lost) = try await state.eventLoop.submit {
                (state.value.stormClients.values.count { $0.isLive }, state.value.stormCounters.lost)
            }.get()
            live += count
            lostBefore += lost
        }
        report.clients = live
        progress("storm: \(live) subscribed clients lose their node…")
        let lossStart = NIODeadline.now().uptimeNanoseconds
        Task { await storm.loseNode() }
        let expectedLost = lostBefore + live
        _ = try await waitUntil(loops, within: storm.lossTimeout, sum: { $0.stormCounters.lost }, reaches: expectedLost)

        // (3) The gap.
        var targetSeq = report.warmUp.lastSeq
        if storm.gapPublishes > 0 {
            progress("storm: \(storm.gapPublishes) publish(es) per entity through the fresh node while the clients are away…")
            let entities = (0..<storm.gapPublishes).flatMap { _ in 0..<configuration.entities }
            report.gap = try await publish(entities, to: fresh, run: run, on: publisherLoop)
            targetSeq.merge(report.gap.lastSeq) { max($0, $1) }
        }

        // (4) Everyone comes back at once.
        var lostClients: [Int] = []
        var finishedBefore = 0
        for state in loops {
            let (indices, finished) = try await state.eventLoop.submit {
                (state.value.stormClients.values.filter { ($0.lostAt ?? 0) >= lossStart }.map(\.index), state.value.stormCounters.finished)
            }.get()
            lostClients += indices
            finishedBefore += finished
        }
        lostClients.sort()
        report.lost = lostClients.count
        progress("storm: \(lostClients.count) clients reconnect to the fresh node…")
        let serverBefore = storm.serverPID.flatMap(ProcessSample.read(pid:))
        let selfBefore = SelfResources.cpuSeconds()
        let reconnectStart = NIODeadline.now()
        let connector = Connector(run: run, loops: loops, phase: .reconnect(clients: lostClients, targetSeq: targetSeq))
        let handshakes = connector.start()
        let allFinished = try await waitUntil(
            loops,
            within: storm.resumeTimeout,
            sum: { $0.stormCounters.finished },
            reaches: finishedBefore + lostClients.count
        )
        let detectedAt = NIODeadline.now()
        let serverAfter = storm.serverPID.flatMap(ProcessSample.read(pid:))
        let selfCPU = SelfResources.cpuSeconds() - selfBefore
        if allFinished { try await handshakes.get() }

        // Results, client by client.
        let start = reconnectStart.uptimeNanoseconds
        let timeout = storm.resumeTimeout
        var handshake = LoopState.makeHistogram()
        var resume = LoopState.makeHistogram()
        var lastAck: UInt64 = 0
        var lastResumed: UInt64 = 0
        var lastLost: UInt64 = lossStart
        for state in loops {
            let results = try await state.eventLoop.submit { () -> [StormClientResult] in
                state.value.stormClients.values.filter { ($0.lostAt ?? 0) >= lossStart }.map { client in
                    if !client.isFinished { client.failed("not resumed within \(timeout)") }
                    return StormClientResult(client, reconnectStart: start)
                }
            }.get()
            for result in results {
                report.lossCodes[result.lossCode, default: 0] += 1
                lastLost = max(lastLost, result.lostAt)
                if let micros = result.handshakeMicros {
                    handshake.record(min(micros, LoopState.highestMicros))
                    lastAck = max(lastAck, result.ackAt)
                }
                if let resumedAt = result.resumedAt {
                    report.resumed += 1
                    lastResumed = max(lastResumed, resumedAt)
                    resume.record(min((resumedAt &- start) / 1000, LoopState.highestMicros))
                }
                if let failure = result.failure { report.failureReasons[failure, default: 0] += 1 }
                switch result.recovered {
                case true?: report.recovered += 1
                case false?: report.notRecovered += 1
                case nil: break
                }
                report.eventsExpected += result.expected
                report.eventsReceived += result.caughtUp
                report.eventsMissing += result.missing
                report.duplicates += result.duplicates
                report.skipped += result.skipped
            }
        }
        report.lossSeconds = Double(lastLost &- lossStart) / 1e9
        report.reconnectSeconds = lastAck > start ? Double(lastAck - start) / 1e9 : 0
        report.resumeSeconds = lastResumed > start ? Double(lastResumed - start) / 1e9 : 0
        report.handshake = .init(micros: handshake)
        report.resume = .init(micros: resume)
        if let serverBefore, let serverAfter {
            report.serverCPUSeconds = serverAfter.cpuSeconds - serverBefore.cpuSeconds
            report.serverCPUMicrosPerClient = report.resumed > 0 ? report.serverCPUSeconds! * 1e6 / Double(report.resumed) : nil
        }
        let wall = Double((detectedAt - reconnectStart).nanoseconds) / 1e9
        let cores = Double(min(SelfResources.cores, configuration.threads))
        report.generatorCPUPercent = wall > 0 ? selfCPU / (wall * cores) * 100 : 0
        return report
    }

    private static func publish(
        _ entities: [Int],
        to endpoint: BenchEndpoint,
        run: BenchRun,
        on eventLoop: any EventLoop
    ) async throws -> BatchOutcome {
        try await eventLoop.flatSubmit {
            BatchPublisher(run: run, endpoint: endpoint, entities: entities, eventLoop: eventLoop).start()
        }.get()
    }

    /// Polls every loop every 5 ms until `condition` holds on each, or `limit` passed; true when it held.
    private static func waitFor(
        _ loops: [NIOLoopBound<LoopState>],
        within limit: Duration,
        _ condition: @escaping @Sendable (LoopState) -> Bool
    ) async throws -> Bool {
        let deadline = ContinuousClock.now + limit
        while true {
            var held = true
            for state in loops where held { held = try await state.eventLoop.submit { condition(state.value) }.get() }
            if held { return true }
            if ContinuousClock.now >= deadline { return false }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Polls every 5 ms until the loops' counters (`sum`) add up to `target`, or `limit` passed.
    private static func waitUntil(
        _ loops: [NIOLoopBound<LoopState>],
        within limit: Duration,
        sum: @escaping @Sendable (LoopState) -> Int,
        reaches target: Int
    ) async throws -> Bool {
        let deadline = ContinuousClock.now + limit
        while true {
            var total = 0
            for state in loops { total += try await state.eventLoop.submit { sum(state.value) }.get() }
            if total >= target { return true }
            if ContinuousClock.now >= deadline { return false }
            try await Task.sleep(for: .milliseconds(5))
        }
    }
}

/// One storm client's outcome, copied off its loop.
private struct StormClientResult: Sendable {
    var lostAt: UInt64
    var lossCode: Int
    var handshakeMicros: UInt64?
    var ackAt: UInt64
    var resumedAt: UInt64?
    var recovered: Bool?
    var failure: String?
    var expected: Int
    var caughtUp: Int
    var missing: Int
    var duplicates: Int
    var skipped: Int

    init(_ client: StormClient, reconnectStart: UInt64) {
        lostAt = client.lostAt ?? 0
        lossCode = client.lossCode ?? 1006
        handshakeMicros = client.handshakeMicros
        ackAt = client.ackedAt ?? reconnectStart
        resumedAt = client.resumedAt
        recovered = client.recovered
        failure = client.failure
        expected = client.expectedCatchUp
        caughtUp = client.caughtUp
        missing = client.missing
        duplicates = client.duplicates
        skipped = client.skipped
    }
}
