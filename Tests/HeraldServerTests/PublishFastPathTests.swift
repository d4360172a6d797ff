import Foundation
import HeraldClient
import HeraldCore
import PostgresNIO
import Testing

/// Publishes a connection's event loop answers itself (`PublishFastPath`) and the ones it leaves
/// to Hummingbird's routes read alike, and a keep-alive connection's answers stay in order
/// whichever answers them — with the in-memory broker, which answers at once, and a cluster's,
/// which answers once the database has.
@Suite struct PublishFastPathTests {
    private static func post(_ path: String, _ body: String, key: String = TestServer.publishKey, extra: [String] = []) -> String {
        ([
            "POST \(path) HTTP/1.1", "Host: 127.0.0.1", "Authorization: Bearer \(key)", "Content-Type: application/json",
            "Content-Length: \(body.utf8.count)",
        ] + extra).joined(separator: "\r\n") + "\r\n\r\n" + body
    }

    /// The responses in `received`: status code and JSON body, in order (each has a Content-Length).
    private static func responses(_ received: String) -> [(status: Int, headers: String, body: JSONValue?)] {
        var rest = Substring(received)
        var found: [(Int, String, JSONValue?)] = []
        while let end = rest.range(of: "\r\n\r\n") {
            let head = String(rest[..<end.lowerBound])
            let status = Int(head.split(separator: " ").dropFirst().first ?? "") ?? 0
            let length =
                head.lowercased().split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
            let bodyStart = end.upperBound
            guard rest.utf8.distance(from: bodyStart, to: rest.endIndex) >= length else { break }
            let bodyEnd = rest.utf8.index(bodyStart, offsetBy: length)
            found.append((status, head.lowercased(), JSON.parse(String(rest[bodyStart..<bodyEnd]))))
            rest = rest[bodyEnd...]
        }
        return found
    }

    private static func exchange(
        _ server: TestServer,
        _ requests: [String],
        thenCloseOutput: Bool = false,
        expecting count: Int
    ) async throws -> [(status: Int, headers: String, body: JSONValue?)] {
        let received = try await RawHTTP.received(port: server.port, request: requests.joined(), thenCloseOutput: thenCloseOutput) {
            responses($0).count >= count
        }
        return responses(received)
    }

    @Test func pipelinedPublishesAreAnsweredInOrder() async throws {
        let server = try await TestServer.start()
        let subscriber = try await server.subscriber(to: ["order-1"])
        let requests = (1...20).map { Self.post("/entities/order-1/updates", #"{"message":"m\#($0)"}"#) }
        let answers = try await Self.exchange(server, requests, expecting: 20)
        #expect(answers.map(\.status) == Array(repeating: 202, count: 20))
        #expect(answers.map { $0.body?["seq"] } == (1...20).map { .int($0) })
        for seq in 1...20 {
            let push = try await subscriber.json()
            #expect(push["seq"] == .int(seq) && push["message"] == .string("m\(seq)"))
        }
        subscriber.close()
        try await server.stop()
    }

    /// A cluster node's answers come from the task that committed the transaction: what the
    /// client pipelined meanwhile waits, in order, and every answer names the seq its push carries.
    @Test func aClusterNodeAnswersPipelinedPublishesInOrder() async throws {
        let node = try await ClusterNodes.node(try await TestPostgres.freshDatabase())
        let subscriber = try await node.subscriber(to: ["order-4"])
        var requests = (1...10).map { Self.post("/entities/order-4/updates", #"{"message":"m\#($0)"}"#) }
        requests.insert("GET /health HTTP/1.1\r\nHost: x\r\n\r\n", at: 3)
        requests.insert(Self.post("/entities/order-4/updates?via=router", #"{"message":"r"}"#), at: 6)
        requests.append(
            Self.post(
                "/events",
                #"[{"detail-type":"Entity Updated","detail":{"entityId":"order-4","message":"e1"}},{"nope":1},"#
                    + #"{"detail-type":"Entity Updated","detail":{"entityId":"order-4","message":"e2"}}]"#
            )
        )
        let answers = try await Self.exchange(node, requests, expecting: requests.count)
        #expect(answers.map(\.status) == Array(repeating: 202, count: 3) + [200] + Array(repeating: 202, count: 8) + [200])
        let seqs = answers.compactMap { $0.body?["seq"] }
        #expect(seqs == (1...11).map { .int($0) })
        guard case .array(let entries)? = answers.last?.body?["entries"] else { throw TestFailure("no entries") }
        #expect(entries.map { $0["seq"] } == [.int(12), nil, .int(13)])
        let messages = (1...3).map { "m\($0)" } + ["m4", "m5", "r"] + (6...10).map { "m\($0)" } + ["e1", "e2"]
        for (index, message) in messages.enumerated() {
            let push = try await subscriber.json()
            #expect(push["seq"] == .int(index + 1) && push["message"] == .string(message))
        }
        subscriber.close()
        try await node.stop()
    }

    /// A client that shuts its side right after pipelining publishes still gets every answer,
    /// in order, while the cluster's answers wait for the database.
    @Test func aClientThatHalfClosesAfterPipelinedPublishesGetsEveryAnswer() async throws {
        let node = try await ClusterNodes.node(try await TestPostgres.freshDatabase())
        let requests = (1...3).map { Self.post("/entities/order-5/updates", #"{"message":"m\#($0)"}"#) }
        let answers = try await Self.exchange(node, requests, thenCloseOutput: true, expecting: 3)
        #expect(answers.map(\.status) == [202, 202, 202])
        #expect(answers.map { $0.body?["seq"] } == [.int(1), .int(2), .int(3)])
        try await node.stop()
    }

    /// A publish the database does not answer is refused with `503` once its 5 s have passed
    /// (here a trigger holds its insert for 8 s), and what the client pipelines behind it
    /// meanwhile is not read without bound: the socket is not read while the answer waits.
    @Test func aStalledPublishIsRefusedIn5sAndThePipelineBehindItIsNotRead() async throws {
        let database = try await TestPostgres.freshDatabase()
        let node = try await ClusterNodes.node(database)
        try await TestPostgres.execute(
            [
                "CREATE FUNCTION stall() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(8); RETURN NEW; END $$",
                "CREATE TRIGGER stall BEFORE INSERT ON herald_events FOR EACH ROW WHEN (NEW.entity_id = 'stalled') EXECUTE FUNCTION stall()",
            ],
            in: database
        )
        let client = try await RawConnection.open(port: node.port)
        let started = ContinuousClock.now
        await client.send(Self.post("/entities/stalled/updates", #"{"message":"m"}"#))
        // 64 MiB of pipelined requests behind it, mostly body (cheap to read, so a server that read
        // on would take it all in well under the 5 s).
        let chunk =
            Array("POST /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 65000\r\n\r\n".utf8) + Array(repeating: UInt8(ascii: "x"), count: 65_000)
        let poured = client.pour(chunk, times: 64 * 1_048_576 / chunk.count)
        #expect(await client.received(within: .seconds(10)) { $0.hasPrefix("HTTP/1.1 ") })
        let took = started.duration(to: .now)
        let taken = poured.bytes
        client.close()
        #expect(client.receivedText.hasPrefix("HTTP/1.1 503"), "\(client.receivedText.prefix(200))")
        #expect(client.receivedText.contains("broker_unavailable"))
        #expect(took >= .seconds(4.5) && took < .seconds(8), "answered after \(took)")
        // The kernel's buffers on both sides (at most 10 MiB on loopback here) and one read, not 64 MiB.
        #expect(taken < 32 * 1_048_576, "the server read \(taken) bytes behind a waiting answer")
        try await node.stop()
    }

    /// A request for Hummingbird between publishes, and publishes it must take (a query, a
    /// chunked body, a wrong key): every answer in the order asked.
    @Test func answersStayInOrderWhicheverPathAnswers() async throws {
        let server = try await TestServer.start()
        let chunked =
            [
                "POST /entities/order-2/updates HTTP/1.1", "Host: x", "Authorization: Bearer \(TestServer.publishKey)",
                "Transfer-Encoding: chunked",
            ].joined(separator: "\r\n") + "\r\n\r\n" + "10\r\n{\"message\":\"m4\"}\r\n0\r\n\r\n"
        let requests = [
            Self.post("/entities/order-2/updates", #"{"message":"m1"}"#),
            "GET /health HTTP/1.1\r\nHost: x\r\n\r\n",
            Self.post("/entities/order-2/updates?via=router", #"{"message":"m2"}"#),
            Self.post("/entities/order-2/updates", #"{"message":"m3"}"#),
            chunked,
            Self.post("/entities/order-2/updates", #"{"message":"m5"}"#),
            // A refused key closes the connection (its body is not read): last.
            Self.post("/entities/order-2/updates", #"{"message":"m6"}"#, key: "wrong"),
        ]
        let answers = try await Self.exchange(server, requests, expecting: 7)
        try await server.stop()
        #expect(answers.map(\.status) == [202, 200, 202, 202, 202, 202, 401])
        #expect(answers.compactMap { $0.body?["seq"] } == [.int(1), .int(2), .int(3), .int(4), .int(5)])
    }

    @Test func bothPathsAnswerAlike() async throws {
        let server = try await TestServer.start()
        // The same requests, on the event loop and (with a query, which only the router takes) by Hummingbird.
        let cases: [(path: String, body: String)] = [
            ("/entities/order-3/updates", #"{"message":"hi","data":{"b":1,"a":[true,null]}}"#),
            ("/entities/order-3/updates", #"{"data":1}"#),
            ("/entities/order-3/updates", "not json"),
            ("/users/ada/notifications", #"{"message":"hello","callback":"https://example.com/x"}"#),
            ("/events", #"[{"DetailType":"Entity Updated","Detail":{"entityId":"order-3","message":"e"}},{"detail-type":"nope"}]"#),
            ("/events", #"{"not":"an array"}"#),
        ]
        for (path, body) in cases {
            let fast = try await Self.exchange(server, [Self.post(path, body)], expecting: 1)
            let routed = try await Self.exchange(server, [Self.post(path + "?x=1", body)], expecting: 1)
            #expect(fast.first?.status == routed.first?.status, "\(path) \(body)")
            for answer in fast + routed {
                #expect(answer.headers.contains("content-type: application/json; charset=utf-8"))
                #expect(answer.headers.contains("server: herald") && answer.headers.contains("date: "))
            }
            // Event ids and seqs differ; everything else is the same.
            func shape(_ value: JSONValue?) -> JSONValue? {
                switch value {
                case .object(let fields)?: .object(fields.mapValues { shape($0) ?? .null })
                case .array(let items)?: .array(items.map { shape($0) ?? .null })
                case .string?: .string("s")
                case .int?: .int(0)
                case let other: other
                }
            }
            #expect(shape(fast.first?.body) == shape(routed.first?.body), "\(path) \(body)")
        }
        try await server.stop()
    }
}
