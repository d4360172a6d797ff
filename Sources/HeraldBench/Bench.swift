import Histogram
import NIOCore
import NIOPosix

/// The load generator behind `herald bench`: connects, optionally publishes, measures the server
/// process and itself, and returns a `BenchReport`.
///
/// Phases: (1) server CPU/RSS baseline; (2) connect `connections` WebSockets, connection i
/// subscribed to `bench-(i % entities)` — handshake latency, connect rate, server CPU per
/// connection; (3) server RSS per connection; (4) publish for `duration` (or hold the connections
/// when the rate is 0), wait up to `drainTimeout` for deliveries still under way — latency,
/// deliveries, server CPU per delivery; (5) with a storm, `StormPhase`; then every socket is
/// closed and the event loops stop.
public enum Bench {
    /// Runs one benchmark. `progress` receives one line per phase (for stderr).
    public static func run(
        _ configuration: BenchConfiguration,
        progress: @Sendable (String) -> Void = { _ in }
    ) async throws -> BenchReport {
        try configuration.validate()
        try SelfResources.ensureFileLimit(configuration.connections + configuration.publishConnections + configuration.window + 64)
        let server = try resolve(configuration.host, port: configuration.port, sourceAddresses: configuration.sourceAddresses)
        let reconnect = try configuration.storm.map { storm throws(BenchError) in
            try resolve(storm.host, port: storm.port, sourceAddresses: configuration.sourceAddresses)
        }
        var publishServers: [SocketAddress] = []
        for other in configuration.publishServers {
            publishServers.append(try resolve(other.host, port: other.port, sourceAddresses: configuration.sourceAddresses))
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: configuration.threads)
        do {
            let report = try await run(
                configuration,
                server: server,
                reconnect: reconnect,
                publishServers: publishServers,
                group: group,
                progress: progress
            )
            try await group.shutdownGracefully()
            return report
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    private static func resolve(_ host: String, port: Int, sourceAddresses: Int) throws(BenchError) -> SocketAddress {
        let address: SocketAddress
        do {
            address = try SocketAddress.makeAddressResolvingHost(host, port: port)
        } catch {
            throw BenchError(.unreachable, "cannot resolve \(host): \(error)")
        }
        if sourceAddresses > 1, case .v6 = address {
            throw BenchError(.invalidConfiguration, "--source-addresses needs an IPv4 server address (127.0.0.x), got \(host)")
        }
        return address
    }

    private static func run(
        _ configuration: BenchConfiguration,
        server: SocketAddress,
        reconnect: SocketAddress?,
        publishServers: [SocketAddress],
        group: MultiThreadedEventLoopGroup,
        progress: @Sendable (String) -> Void
    ) async throws -> BenchReport {
        var loops: [NIOLoopBound<LoopState>] = []
        for eventLoop in group.makeIterator() {
            loops.append(try await eventLoop.submit { NIOLoopBound(LoopState(), eventLoop: eventLoop) }.get())
        }
        let publisherLoop = loops[0].eventLoop
        let publisherBox = NIOLoopBoundBox.makeEmptyBox(valueType: Publisher.self, eventLoop: publisherLoop)
        let ledger: DeliveryLedger? =
            configuration.rate == .max
            ? DeliveryLedger { index in publisherLoop.execute { publisherBox.value?.publishCompleted(index) } }
            : nil
        let benchRun = BenchRun(configuration: configuration, server: server, reconnect: reconnect, publishServers: publishServers, ledger: ledger)
        let serverPID = configuration.serverPID
        func sampleServer() -> ProcessSample? { serverPID.flatMap(ProcessSample.read(pid:)) }
        let cores = min(SelfResources.cores, configuration.threads)

        // (1) Baseline.
        let baseline = sampleServer()
        if serverPID != nil, baseline == nil { progress("warning: cannot read /proc/\(serverPID!)/stat; server figures will be missing") }

        // (2) Connect.
        progress(
            "connecting \(configuration.connections) WebSockets to \(configuration.target.rawValue) at \(configuration.host):\(configuration.port)…"
        )
        let connector = Connector(run: benchRun, loops: loops)
        let connectStart = NIODeadline.now()
        let selfBeforeConnect = SelfResources.cpuSeconds()
        try await connector.start().get()
        let connectSeconds = Double((NIODeadline.now() - connectStart).nanoseconds) / 1e9
        let selfConnectCPU = SelfResources.cpuSeconds() - selfBeforeConnect
        let afterConnect = sampleServer()
        let ready = connector.readyCount
        progress("\(ready) ready in \(BenchReport.format(connectSeconds, 2)) s")

        // (4) Publish, or hold the connections.
        let publishStart = NIODeadline.now()
        let selfBeforePublish = SelfResources.cpuSeconds()
        var summary: PublishSummary?
        if ready == 0 {
            progress("no connection is ready; skipping the \(configuration.rate == .idle ? "idle" : "publish") phase")
        } else if configuration.rate == .idle {
            progress("holding \(ready) connections for \(configuration.duration)…")
            try await Task.sleep(for: configuration.duration)
        } else {
            progress("publishing at rate \(configuration.rate) for \(configuration.duration)…")
            summary = try await publisherLoop.flatSubmit {
                let publisher = Publisher(run: benchRun, eventLoop: publisherLoop)
                publisherBox.value = publisher
                return publisher.start()
            }.get()
            try await drain(loops: loops, expected: summary!.expected.reduce(0) { $0 + Int(max($1, 0)) }, timeout: configuration.drainTimeout)
            try await publisherLoop.submit { publisherBox.value = nil }.get()
        }
        let publishWall = Double((NIODeadline.now() - publishStart).nanoseconds) / 1e9
        let selfPublishCPU = SelfResources.cpuSeconds() - selfBeforePublish
        let end = sampleServer()

        // (5) The storm.
        var storm: StormReport?
        if configuration.storm != nil, ready > 0 {
            storm = try await StormPhase.run(benchRun, loops: loops, progress: progress)
        }

        // Close everything, then collect.
        progress("closing…")
        var closing: [EventLoopFuture<Void>] = []
        for state in loops {
            closing.append(state.eventLoop.flatSubmit { state.value.closeAll(on: state.eventLoop) })
        }
        try? await EventLoopFuture.andAllComplete(closing, on: publisherLoop).get()
        var summaries: [LoopSummary] = []
        for state in loops {
            summaries.append(try await state.eventLoop.submit { state.value.summary() }.get())
        }

        var handshake = LoopState.makeHistogram()
        var upgrade = LoopState.makeHistogram()
        var latency = LoopState.makeHistogram()
        for loop in summaries {
            handshake.add(loop.handshake)
            upgrade.add(loop.upgrade)
            latency.add(loop.latency)
        }
        var report = BenchReport(configuration: configuration, handshake: handshake, upgrade: upgrade, latency: latency)
        report.connectionsReady = ready
        report.connectionsFailed = configuration.connections - ready
        for loop in summaries {
            report.failureReasons.merge(loop.failures, uniquingKeysWith: +)
            report.closeCodes.merge(loop.closeCodes, uniquingKeysWith: +)
            report.closedEarly += loop.closedEarly
            report.otherFrames += loop.otherFrames
        }
        let unattempted = configuration.connections - ready - report.failureReasons.values.reduce(0, +)
        if unattempted > 0 { report.failureReasons["not attempted (connect phase timeout)", default: 0] += unattempted }
        report.connectSeconds = connectSeconds
        report.connectsPerSecond = connectSeconds > 0 ? Double(ready) / connectSeconds : 0
        if let baseline, let afterConnect {
            report.serverCPUConnectSeconds = afterConnect.cpuSeconds - baseline.cpuSeconds
            report.serverCPUMicrosPerConnection = ready > 0 ? (afterConnect.cpuSeconds - baseline.cpuSeconds) * 1e6 / Double(ready) : nil
            report.serverRSSBaselineBytes = baseline.rssBytes
            report.serverRSSAfterConnectBytes = afterConnect.rssBytes
            report.serverRSSPerConnectionBytes = ready > 0 ? Double(afterConnect.rssBytes - baseline.rssBytes) / Double(ready) : nil
        }
        report.serverRSSEndBytes = end?.rssBytes

        if let summary {
            account(summary, loops: summaries, into: &report)
            if let afterConnect, let end {
                report.serverCPUPublishSeconds = end.cpuSeconds - afterConnect.cpuSeconds
                if report.deliveriesReceived > 0 {
                    report.serverCPUMicrosPerDelivery = (end.cpuSeconds - afterConnect.cpuSeconds) * 1e6 / Double(report.deliveriesReceived)
                }
            }
        }

        report.storm = storm
        report.generatorCores = cores
        report.generatorCPUConnectPercent = connectSeconds > 0 ? selfConnectCPU / (connectSeconds * Double(cores)) * 100 : 0
        report.generatorCPUPublishPercent = publishWall > 0 ? selfPublishCPU / (publishWall * Double(cores)) * 100 : 0
        assess(&report, summary: summary)
        return report
    }

    /// Waits until `expected` deliveries arrived or `timeout` passed, polling each loop's counter.
    private static func drain(loops: [NIOLoopBound<LoopState>], expected: Int, timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        while true {
            var delivered = 0
            for state in loops { delivered += try await state.eventLoop.submit { state.value.deliveries }.get() }
            if delivered >= expected || ContinuousClock.now >= deadline { return }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Expected vs received per publish: missing and duplicate deliveries.
    private static func account(_ summary: PublishSummary, loops: [LoopSummary], into report: inout BenchReport) {
        report.publishSeconds = summary.seconds
        report.publishesScheduled = summary.scheduled
        report.publishesSent = summary.sent
        report.publishesFailed = summary.failed
        report.publishErrors = summary.errors
        report.publishesSkipped = summary.skipped
        report.publishesTimedOut = summary.timedOut
        report.publishStatuses = summary.statuses
        if summary.lag.totalCount > 0 {
            report.publishLagP99Ms = Double(summary.lag.valueAtPercentile(99)) / 1000
            report.publishLagMaxMs = Double(summary.lag.max) / 1000
        }
        for (index, expected) in summary.expected.enumerated() {
            var received = 0
            for loop in loops where index < loop.receivedByPublish.count { received += Int(loop.receivedByPublish[index]) }
            report.deliveriesReceived += received
            guard expected >= 0 else {
                // The publish got no answer: whatever arrived is neither missing nor duplicate.
                report.deliveriesExpected += received
                continue
            }
            report.deliveriesExpected += Int(expected)
            report.deliveriesMissing += max(0, Int(expected) - received)
            report.deliveriesDuplicate += max(0, received - Int(expected))
        }
        let stray = loops.reduce(0) { $0 + $1.deliveries } - report.deliveriesReceived
        report.otherFrames += max(0, stray)
        report.deliveriesPerSecond = summary.seconds > 0 ? Double(report.deliveriesReceived) / summary.seconds : 0
    }

    /// Flags runs whose figures measure the generator, and other results a reader must not miss.
    private static func assess(_ report: inout BenchReport, summary: PublishSummary?) {
        let threshold = 85.0
        let cores = report.generatorCores
        let coreText = "\(cores) core\(cores == 1 ? "" : "s")"
        if report.generatorCPUPublishPercent >= threshold, summary != nil {
            report.generatorPublishSaturated = true
            report.warnings.append(
                "the load generator used \(BenchReport.format(report.generatorCPUPublishPercent, 0))% of its \(coreText) while publishing: "
                    + "deliveries/s, latency and CPU per delivery may measure the generator, not the server (give it more cores or --threads, or lower the load)"
            )
        }
        if report.generatorCPUConnectPercent >= threshold {
            report.generatorConnectSaturated = true
            report.warnings.append(
                "the load generator used \(BenchReport.format(report.generatorCPUConnectPercent, 0))% of its \(coreText) while connecting: "
                    + "the connect rate and handshake times may measure the generator (lower --connect-concurrency or give it more cores)"
            )
        }
        if let summary, case .perSecond(let rate) = report.configuration.rate {
            let lateSends = report.publishLagP99Ms > 100
            let short = Double(summary.sent) < Double(summary.scheduled) * 0.98 || summary.skipped > 0
            if lateSends || short {
                report.behindSchedule = true
                report.warnings.append(
                    "publishing fell behind the schedule of \(BenchConfiguration.Rate.perSecond(rate)) /s "
                        + "(\(summary.sent) sent of \(summary.scheduled) due, \(summary.skipped) skipped, lag p99 \(BenchReport.format(report.publishLagP99Ms, 1)) ms): "
                        + "the generator or the server's publish endpoint could not keep up"
                )
            }
        }
        if report.configuration.connections > 12_000, report.configuration.sourceAddresses == 1 {
            report.warnings.append(
                "\(report.configuration.connections) connections from one source address: Linux's ephemeral-port search makes "
                    + "connect() slow past ~14,000 (use --source-addresses 4)"
            )
        }
        if report.connectionsFailed > 0 {
            report.warnings.append("\(report.connectionsFailed) of \(report.configuration.connections) connections did not become ready")
        }
        if report.deliveriesMissing > 0 {
            report.warnings.append("\(report.deliveriesMissing) deliveries missing after the \(report.configuration.drainTimeout) drain")
        }
        if report.publishesFailed + report.publishErrors > 0 {
            report.warnings.append("\(report.publishesFailed) publishes refused and \(report.publishErrors) unanswered")
        }
        if let storm = report.storm, !storm.complete {
            report.warnings.append(
                "storm: \(storm.resumed) of \(storm.clients) clients resumed, \(storm.notRecovered) not recovered, "
                    + "\(storm.eventsMissing) missed events missing, \(storm.duplicates) duplicates, \(storm.skipped) out of order"
            )
        }
        if report.configuration.serverPID == nil {
            report.warnings.append("no --server-pid: server CPU and memory were not measured")
        }
    }
}
