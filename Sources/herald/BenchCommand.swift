import ArgumentParser
import Foundation
import HeraldBench
import HeraldCore
import HeraldServer
import HeraldTokens

/// `herald bench`: the load generator (README.md, Command line) against Herald or, for comparison, Nginx + Nchan.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Load generator: connect N WebSockets, publish at a rate, report latency, throughput and server CPU/memory.",
        discussion: """
            Connection i subscribes to entity bench-(i % K). With --rate R, R publishes per second go out on a \
            fixed schedule (entities round-robin); with --rate max, a closed loop keeps --window (4) publishes \
            outstanding and sends the next when one's deliveries have all arrived (or after 2 s); with --rate 0 \
            nothing is published and the connections are held for --duration (memory per connection). \
            Each message carries its send time; receivers scan the frame for it, so latency is publish → receive. \
            With --events-per-publish N above 1, each publish request is a POST /events batch of N events (the rate, \
            the publish counts and the latency are per event); --publish-url (repeatable) sends the publishes to \
            other servers, the connections taking them in turn, while the subscribers stay on --url (the nodes of a \
            cluster). Handshake time is TCP connect → ready: Herald's "subscribed" acknowledgement, Nchan's 101 response.

            With --server-pid (Herald's pid, or the nginx worker's), server CPU comes from /proc/PID/stat \
            (utime+stime) and memory from /proc/PID/status (VmRSS): CPU per connection over the connect phase, \
            CPU per delivery over the publish phase and drain, RSS per connection after connecting. The \
            generator measures its own CPU too and warns when it, not the server, was the bottleneck. With \
            --connect-rate, connections are opened at that rate (still at most --connect-concurrency in flight).

            Reconnect storm (--storm-pid): after the publish phase, Herald gets one publish per entity (so every \
            client has a seq), then the process --storm-pid is sent SIGTERM (Herald closes with 1001); once every \
            subscribed client has noticed, --gap-publishes per entity go through the fresh node at --reconnect-url, \
            and every client reconnects there at once, Herald's subscribing with since and epoch. Reported: the \
            time until every client has its ack and every missed event (each checked exactly once, in seq order), \
            and the fresh node's CPU (--reconnect-server-pid). With Nchan the clients merely reconnect.

            --json prints one object: target, url, config{connections, entities, rate, durationSeconds, \
            messageBytes, sourceAddresses, connectConcurrency, threads, window, publishConnections, eventsPerPublish, \
            publishServers, serverPid}, \
            connect{ready, failed, failureReasons, seconds, perSecond, handshakeMs{p50,p90,p99,max}, \
            serverCpuSeconds, serverCpuUsPerConnection}, memory{serverRssBaselineBytes, serverRssAfterConnectBytes, \
            serverRssEndBytes, serverRssPerConnectionBytes}, publish{seconds, scheduled, sent, failed, errors, \
            skipped, timedOut, statuses, lagP99Ms, lagMaxMs}, deliveries{expected, received, missing, duplicates, \
            perSecond, serverCpuSeconds, serverCpuUsPerDelivery, closedEarly, closeCodes, otherFrames}, \
            latencyMs{count,p50,p90,p99,p999,max}, generator{cores, connectCpuPercent, publishCpuPercent, \
            connectSaturated, publishSaturated, saturated, behindSchedule}, storm{clients, lost, lossCodes, \
            lossSeconds, warmUpPublishes, gapPublishes, reconnectSeconds, resumeSeconds, resumed, recovered, \
            notRecovered, events{expected, received, missing, duplicates, skipped}, failureReasons, handshakeMs, \
            resumeMs, serverCpuSeconds, serverCpuUsPerClient, generatorCpuPercent, complete}, bottleneck, warnings. \
            Values not measured are null.
            """
    )

    @OptionGroup var client: ClientOptions
    @Option(help: "herald or nchan (Nchan: --url http://HOST:PORT, /sub/ID and /pub/ID).") var target = "herald"
    @Option(help: "WebSocket connections (1…100000).") var connections = 1000
    @Option(help: "Entities (channels) the connections are spread over.") var entities = 1
    @Option(help: "Publishes per second, 'max' (closed loop) or 0 (idle).") var rate = "10"
    @Option(help: "Publish (or idle) phase length, e.g. 10s, 2m (at most 10m).") var duration = "10s"
    @Option(name: .customLong("server-pid"), help: "Server process to measure (for Nchan: the nginx worker).") var serverPID: Int32?
    @Option(name: .customLong("message-bytes"), help: "Size of each published message.") var messageBytes = 64
    @Option(
        name: .customLong("source-addresses"),
        help: "Bind client sockets round-robin to 127.0.0.1…127.0.0.N (Linux slows connect() past ~14k connections from one address)."
    )
    var sourceAddresses = 1
    @Option(name: .customLong("connect-concurrency"), help: "Handshakes in flight while connecting.") var connectConcurrency = 200
    @Option(name: .customLong("connect-rate"), help: "Connections opened per second (default: as fast as --connect-concurrency allows).")
    var connectRate: Double?
    @Option(name: .customLong("storm-pid"), help: "Reconnect storm: the process sent SIGTERM so that every client loses its node.")
    var stormPID: Int32?
    @Option(name: .customLong("reconnect-url"), help: "Reconnect storm: the fresh node the clients reconnect to.") var reconnectURL: String?
    @Option(name: .customLong("reconnect-server-pid"), help: "Reconnect storm: the fresh node's process (its CPU is measured).")
    var reconnectServerPID: Int32?
    @Option(
        name: .customLong("gap-publishes"),
        help: "Reconnect storm: publishes per entity while the clients are away (default: 1 for Herald, 0 for Nchan)."
    )
    var gapPublishes: Int?
    @Option(help: "Generator event-loop threads (default: the cores it may run on).") var threads: Int?
    @Option(help: "--rate max: publishes outstanding at once.") var window = 4
    @Option(name: .customLong("publish-connections"), help: "Keep-alive HTTP connections for publishing.") var publishConnections = 8
    @Option(
        name: .customLong("events-per-publish"),
        help: "Herald: events per publish request, sent as one POST /events batch above 1 (--rate counts events)."
    )
    var eventsPerPublish = 1
    @Option(
        name: .customLong("publish-url"),
        help: "Publish through this server instead (repeat: the publish connections take them in turn), e.g. other nodes of a cluster."
    )
    var publishURLs: [String] = []
    @Option(help: "Herald: distinct user tokens, reused round-robin (default: min(connections, 1000)).") var tokens: Int?
    @Flag(help: "Print one JSON object on stdout instead of the text report.") var json = false

    func run() async throws {
        var configuration = try makeConfiguration()
        if configuration.target == .herald {
            let count = tokens ?? min(configuration.connections, 1000)
            guard (1...configuration.connections).contains(count) else { throw CommandFailure("--tokens must be 1…\(configuration.connections)") }
            let issuer = TokenIssuer(secret: try client.resolvedSecret())
            var claims = TokenIssuer.Claims()
            claims.ttl = .seconds(3600)
            do {
                for index in 0..<count {
                    claims.userID = "bench-user-\(index)"
                    configuration.tokens.append(try await issuer.token(for: claims))
                }
            } catch {
                throw CommandFailure("cannot sign test tokens: \(error)")
            }
            if configuration.rate != .idle || configuration.storm != nil { configuration.publishKey = try client.resolvedPublishKey() }
        }
        let report: BenchReport
        do {
            report = try await Bench.run(configuration) { line in Output.error(line) }
        } catch let error as BenchError {
            throw CommandFailure(error.description)
        }
        Output.line(json ? report.json : report.text)
        if report.connectionsReady == 0 {
            let reasons = report.failureReasons.sorted { $0.value > $1.value }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", ")
            throw CommandFailure("no connection became ready (\(reasons))")
        }
        // A run whose publishes were refused measured nothing: say so in the exit status, not only in a warning.
        if report.publishesFailed + report.publishErrors > 0 {
            let statuses = report.publishStatuses.filter { !(200..<300).contains($0.key) }.sorted { $0.key < $1.key }
                .map { "HTTP \($0.key) ×\($0.value)" }.joined(separator: ", ")
            throw CommandFailure(
                "\(report.publishesFailed) publishes refused\(statuses.isEmpty ? "" : " (\(statuses))") and \(report.publishErrors) unanswered"
            )
        }
    }

    private func makeConfiguration() throws -> BenchConfiguration {
        var configuration = BenchConfiguration()
        guard let target = BenchConfiguration.Target(rawValue: target.lowercased()) else {
            throw CommandFailure("invalid --target \"\(target)\": expected herald or nchan")
        }
        configuration.target = target
        guard let rate = BenchConfiguration.Rate(rate) else {
            throw CommandFailure("invalid --rate \"\(rate)\": expected publishes per second, 0 (idle) or max")
        }
        configuration.rate = rate
        guard let duration = ConfigValue.duration(duration) else {
            throw CommandFailure("invalid --duration \"\(duration)\": expected e.g. 500ms, 10s, 2m or plain seconds")
        }
        configuration.duration = duration
        let url: String
        if target == .nchan {
            guard let given = client.url ?? ProcessInfo.processInfo.environment["HERALD_URL"] else {
                throw CommandFailure("--target nchan needs --url http://HOST:PORT of the nginx server")
            }
            url = given
        } else {
            url = try client.resolvedURL()
        }
        do {
            try configuration.setURL(url)
        } catch {
            throw CommandFailure(error.description)
        }
        configuration.connections = connections
        configuration.entities = entities
        configuration.messageBytes = messageBytes
        configuration.sourceAddresses = sourceAddresses
        configuration.connectConcurrency = connectConcurrency
        configuration.threads = threads ?? BenchConfiguration.availableCores
        configuration.window = window
        configuration.publishConnections = publishConnections
        configuration.eventsPerPublish = eventsPerPublish
        do {
            for url in publishURLs { try configuration.addPublishURL(url) }
        } catch {
            throw CommandFailure(error.description)
        }
        configuration.serverPID = serverPID
        configuration.connectRate = connectRate
        if let stormPID {
            guard stormPID > 0 else { throw CommandFailure("--storm-pid must be a process id") }
            guard let reconnectURL else { throw CommandFailure("--storm-pid needs --reconnect-url (the fresh node)") }
            var storm = BenchConfiguration.Storm { _ = kill(stormPID, SIGTERM) }
            do {
                try storm.setURL(reconnectURL)
            } catch {
                throw CommandFailure(error.description)
            }
            storm.serverPID = reconnectServerPID
            storm.gapPublishes = gapPublishes ?? (target == .herald ? 1 : 0)
            configuration.storm = storm
        } else if reconnectURL != nil || reconnectServerPID != nil || gapPublishes != nil {
            throw CommandFailure("--reconnect-url, --reconnect-server-pid and --gap-publishes belong to a storm: add --storm-pid")
        }
        // Checked here, before minting tokens; Bench.run checks again.
        var check = configuration
        if check.target == .herald {
            check.tokens = ["-"]
            check.publishKey = "-"
        }
        check.storm?.loseNode = {}
        do {
            try check.validate()
        } catch {
            throw CommandFailure(error.description)
        }
        return configuration
    }
}
