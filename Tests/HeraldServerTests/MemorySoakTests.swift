import AsyncHTTPClient
import Foundation
import HeraldClient
import HeraldCore
import NIOCore
import NIOHTTP1
import Testing

/// Memory does not grow with the number of entities ever published (PROTOCOL.md §4): a `herald serve`
/// child is published to with 60,000 distinct ids (`HERALD_SOAK_IDS` for more) and a 4 s history
/// TTL; once their events expired and a sweep ran, the node keeps no entity and its resident
/// memory is back near where it started. (The old code kept every id, about 0.6 KB each, forever.)
/// A debug server takes about 2,900 events a second (2,500 per request), so the default fits in
/// about half a minute; docs/PERFORMANCE.md has the 200,000-id figure from a release build.
@Suite(.serialized) struct MemorySoakTests {
    private static let secret = "soak-secret-0123456789abcdef-0123456789abcdef-0123456789"
    private static let key = "soak-key"

    /// VmRSS of `pid`, in bytes, from `/proc/PID/status`.
    private func residentBytes(of pid: Int32) throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kilobytes = line.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
        else { throw TestFailure("no VmRSS in /proc/\(pid)/status") }
        return kilobytes * 1024
    }

    /// `POST /events` of one entity update for each id in `range`.
    private func publish(_ range: Range<Int>, through client: PublishClient) async throws {
        var body: [UInt8] = []
        body.reserveCapacity(range.count * 90)
        body.append(UInt8(ascii: "["))
        for index in range {
            if index > range.lowerBound { body.append(UInt8(ascii: ",")) }
            body.append(contentsOf: #"{"detail-type":"Entity Updated","detail":{"entityId":"order-"#.utf8)
            body.append(contentsOf: String(index).utf8)
            body.append(contentsOf: #"","message":"m"}}"#.utf8)
        }
        body.append(UInt8(ascii: "]"))
        let answer = try await client.post("/events", body: body, timeout: .seconds(30))
        // (The answer lists every entry, then says how many failed: read without parsing it all.)
        #expect(answer.status == 200 && answer.body.hasSuffix(#""failedEntryCount":0}"#), "\(answer.status)")
    }

    /// Publishes `count` ids from `start` in batches of 2,500 (under the 256 KiB body limit), one
    /// at a time (a second lane does not make a debug server faster).
    private func publish(_ count: Int, from start: Int, through client: PublishClient) async throws {
        let batch = 2_500
        for first in stride(from: start, to: start + count, by: batch) {
            try await publish(first..<min(first + batch, start + count), through: client)
            await Task.yield()
        }
    }

    /// `streams` of `GET /admin/stats`: the entities the node keeps.
    private func streams(_ client: PublishClient, _ baseURL: String) async throws -> Int? {
        var request = HTTPClientRequest(url: baseURL + "/admin/stats")
        request.headers.add(name: "Authorization", value: "Bearer \(Self.key)")
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 1 << 20)
        guard case .int(let count)? = JSON.parse(body.readableBytesView)?["streams"] else { return nil }
        return count
    }

    @Test func residentMemoryReturnsNearItsBaselineOnceManyDistinctIdsAreForgotten() async throws {
        let ids = ProcessInfo.processInfo.environment["HERALD_SOAK_IDS"].flatMap { Int($0) } ?? 60_000
        let environment = [
            "HERALD_JWT_SECRET": Self.secret, "HERALD_PUBLISH_KEY": Self.key, "HERALD_HOST": "127.0.0.1",
            "HERALD_HISTORY_TTL": "4s", "HERALD_LOG_LEVEL": "warning",
        ]
        // Niced, so the busy server does not starve the tests that run beside this one (`nice` execs it: same pid).
        let serve = try HeraldProcess(
            URL(fileURLWithPath: "/usr/bin/nice"),
            ["-n", "10", CommandLineTests.binary.path, "serve", "--port", "0"],
            environment: environment
        )
        let listening = try #require(await serve.line(timeout: .seconds(20)))
        let port = try #require(listening.wholeMatch(of: /listening on ws:\/\/127\.0\.0\.1:(\d+)\//)?.1)
        let baseURL = "http://127.0.0.1:\(port)"
        let client = PublishClient(baseURL: baseURL, publishKey: Self.key)
        let pid = serve.pid

        // Warm up the allocator, the connection and the event loops with 2,500 ids, and let them be forgotten.
        try await publish(2_500, from: 0, through: client)
        try await waitForNoStreams(client, baseURL)
        let baseline = try residentBytes(of: pid)

        let started = ContinuousClock.now
        try await publish(ids, from: 2_500, through: client)
        let peakStreams = try await streams(client, baseURL) ?? 0
        let peak = try residentBytes(of: pid)
        try await waitForNoStreams(client, baseURL)
        // Two more sweeps (one a second): the last one that forgot something may have freed too little to trim.
        try await Task.sleep(for: .milliseconds(2_500))
        let after = try residentBytes(of: pid)
        let mebibyte = Double(1 << 20)
        print(
            "soak: \(ids) ids in \(ContinuousClock.now - started); streams at the end of publishing \(peakStreams); RSS baseline "
                + "\(Double(baseline) / mebibyte) MiB, peak \(Double(peak) / mebibyte) MiB, after \(Double(after) / mebibyte) MiB"
        )
        #expect(peakStreams > 5_000, "the ids were kept for their TTL")
        #expect(after - baseline < 16 << 20, "RSS \(after) is within 16 MiB of the baseline \(baseline)")
        serve.signal(SIGTERM)
        #expect(await serve.exitCode() == 0)
    }

    private func waitForNoStreams(_ client: PublishClient, _ baseURL: String) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while try await streams(client, baseURL) != 0 {
            guard ContinuousClock.now < deadline else { throw TestFailure("the node still keeps entities after 30 s") }
            try await Task.sleep(for: .milliseconds(200))
        }
    }
}
