import Foundation
import HeraldClient
import HeraldCore
import HeraldPostgres
import HeraldServer
import NIOHTTP1
import PostgresNIO
import Testing

/// Several nodes sharing one PostgreSQL database (OPERATIONS.md §13), each a live server with real clients.
@Suite struct ClusterTests {
    /// A node of the cluster whose database is `database`.
    private func node(_ database: PostgresURL, _ configure: (inout HeraldConfiguration) -> Void = { _ in }) async throws -> TestServer {
        try await ClusterNodes.node(database, configure)
    }

    /// Two nodes of a cluster on a fresh database.
    private func twoNodes() async throws -> (TestServer, TestServer) {
        let database = try await TestPostgres.freshDatabase()
        return (try await node(database), try await node(database))
    }

    private func expectPushes(_ socket: HeraldSocket, _ seqs: ClosedRange<Int>, prefix: String = "m") async throws {
        for seq in seqs {
            let push = try await socket.json()
            #expect(push["type"] == "Entity Updated" && push["seq"] == .int(seq) && push["message"] == .string("\(prefix)\(seq)"), "\(push)")
        }
    }

    @Test func anEventPublishedOnOneNodeReachesSubscribersOnEveryNode() async throws {
        let (a, b) = try await twoNodes()
        #expect(try await ackEpoch(a, "order-1") == ackEpoch(b, "order-1"), "every node acks the stream's one epoch")
        let onA = try await a.subscriber(user: "ada", to: ["order-1"])
        let onB = try await b.subscriber(user: "ada", to: ["order-1"])

        let first = try await a.publishEntity("order-1", message: "m1")
        #expect(first["seq"] == .int(1))
        let second = try await b.publishEntity("order-1", message: "m2")
        #expect(second["seq"] == .int(2), "seq is numbered for the whole cluster")
        try await expectPushes(onA, 1...2)
        try await expectPushes(onB, 1...2)

        #expect(try await b.publish("/users/ada/notifications", #"{"message":"to every node"}"#).status == 202)
        for socket in [onA, onB] {
            let push = try await socket.json()
            #expect(push["type"] == "User Push Notification" && push["message"] == "to every node")
        }
        try await a.stop()
        try await b.stop()
    }

    @Test func oneEntitysEventsKeepOneOrderWhicheverNodePublishes() async throws {
        let (a, b) = try await twoNodes()
        let onA = try await a.subscriber(to: ["order-7"])
        let onB = try await b.subscriber(to: ["order-7"])
        let perNode = 60
        try await withThrowingTaskGroup { group in
            for server in [a, b] {
                group.addTask {
                    for index in 0..<perNode {
                        let answer = try await server.publish("/entities/order-7/updates", #"{"message":"x","data":{"n":\#(index)}}"#)
                        #expect(answer.status == 202)
                    }
                }
            }
            try await group.waitForAll()
        }
        var seen: [[String]] = [[], []]
        for (index, socket) in [onA, onB].enumerated() {
            for seq in 1...(2 * perNode) {
                guard case .text(let text)? = await socket.next(timeout: .seconds(10)) else { throw TestFailure("push \(seq) missing") }
                #expect(JSON.parse(text)?["seq"] == .int(seq))
                seen[index].append(text)
            }
        }
        #expect(seen[0] == seen[1], "both nodes sent the same bytes in the same order")
        try await a.stop()
        try await b.stop()
    }

    @Test func aClientResumesOnAnotherNodeWithNothingLostOrRepeated() async throws {
        let (a, b) = try await twoNodes()
        let first = try await a.connect()
        first.send(#"{"action":"subscribe","entityId":"order-7"}"#)
        let ack = try await first.json()
        let epoch = try #require(ack["epoch"])
        for seq in 1...3 { _ = try await a.publishEntity("order-7", message: "m\(seq)") }
        try await expectPushes(first, 1...3)
        first.close()
        _ = try await first.closeCode()

        for seq in 4...6 { _ = try await a.publishEntity("order-7", message: "m\(seq)") }  // missed while away
        let second = try await b.connect()
        // Node b has heard 4…6 by the time its history holds them; wait for that, then resume there.
        try await waitUntilHeard(b, seq: 6)
        second.send(#"{"action":"subscribe","entityId":"order-7","since":3,"epoch":\#(String(decoding: JSON.encode(epoch), as: UTF8.self))}"#)
        #expect(try await second.json()["recovered"] == .bool(true))
        try await expectPushes(second, 4...6)
        _ = try await a.publishEntity("order-7", message: "m7")
        try await expectPushes(second, 7...7)
        try await a.stop()
        try await b.stop()
    }

    @Test func aNodeStartedLaterKnowsTheHistoryAndGoesOnNumbering() async throws {
        let database = try await TestPostgres.freshDatabase()
        let a = try await node(database)
        for seq in 1...5 { _ = try await a.publishEntity("order-7", message: "m\(seq)") }
        for seq in 1...2 { _ = try await a.publishEntity("quiet-entity", message: "q\(seq)") }
        try await a.stop()

        let c = try await node(database) { $0.history.size = 3 }
        let resumed = try await c.connect()
        resumed.send(#"{"action":"subscribe","entityId":"order-7","since":2}"#)
        #expect(try await resumed.json()["recovered"] == .bool(true))
        try await expectPushes(resumed, 3...5)
        let behind = try await c.connect()
        behind.send(#"{"action":"subscribe","entityId":"order-7","since":1}"#)
        #expect(try await behind.json()["recovered"] == .bool(false), "the new node keeps 3 events, like the cluster")
        try await expectPushes(behind, 3...5)
        #expect(try await c.publishEntity("order-7", message: "m6")["seq"] == .int(6))
        try await expectPushes(resumed, 6...6)
        #expect(try await c.publishEntity("quiet-entity", message: "q3")["seq"] == .int(3))
        try await c.stop()
    }

    @Test func pushesTooLargeForANotificationArriveWhole() async throws {
        let (a, b) = try await twoNodes()
        let onB = try await b.subscriber(user: "ada", to: ["order-7"])
        let big = String(repeating: "x", count: 20_000)
        _ = try await a.publishEntity("order-7", message: big)
        #expect(try await a.publish("/users/ada/notifications", #"{"message":"\#(big)"}"#).status == 202)
        let entityPush = try await onB.json()
        #expect(entityPush["message"] == .string(big) && entityPush["seq"] == .int(1))
        let userPush = try await onB.json()
        #expect(userPush["type"] == "User Push Notification" && userPush["message"] == .string(big))
        try await a.stop()
        try await b.stop()
    }

    @Test func aCutFromTheDatabaseLosesNoEvent() async throws {
        let database = try await TestPostgres.freshDatabase()
        let (a, b) = (try await node(database), try await node(database))
        let onB = try await b.subscriber(to: ["order-7"])
        _ = try await a.publishEntity("order-7", message: "m1")
        try await expectPushes(onB, 1...1)

        // Every connection of the database is cut: both nodes' listeners and pools.
        try await TestPostgres.terminateConnections(to: database)
        var published = 1
        let deadline = ContinuousClock.now + .seconds(20)
        while published < 5 {
            // The pools reconnect on their own; a publish during the cut may be refused with 503.
            guard ContinuousClock.now < deadline else { throw TestFailure("publishes failed for 20 s after the cut") }
            let answer = try await a.publish("/entities/order-7/updates", #"{"message":"m\#(published + 1)"}"#)
            if answer.status == 202 { published += 1 } else { #expect(answer.status == 503) }
        }
        try await expectPushes(onB, 2...5)
        try await waitUntilReady(b)
        _ = try await a.publishEntity("order-7", message: "m6")
        try await expectPushes(onB, 6...6)
        try await onB.expectNothingPending()
        try await a.stop()
        try await b.stop()
    }

    @Test func connectionsOnAnotherNodeAreReachedThroughAnyNode() async throws {
        let (a, b) = try await twoNodes()
        try await waitUntilReady(a)
        try await waitUntilReady(b)
        // A connection joins its node just after the 101 is written, which the client may see first.
        let onB = try await b.connect(user: "ada")
        try await waitUntil("the connection joined node b") { b.application.hub.connections == 1 }
        let idOnB = try await b.connectionID(of: "ada")
        let onA = try await a.connect(user: "ada")
        try await waitUntil("the connection joined node a") { a.application.hub.connections == 1 }

        // The admin list of either node shows both connections.
        for server in [a, b] {
            let (status, body) = try await server.get("/admin/connections?userId=ada")
            guard status == 200, case .array(let listed)? = body?["connections"] else { throw TestFailure("no list: \(status)") }
            #expect(listed.count == 2)
            #expect(listed.contains { $0["connectionId"] == .string(idOnB) })
        }
        // @connections on node a reaches the connection on node b.
        let (status, description) = try await a.get("/@connections/\(idOnB)")
        #expect(status == 200 && description?["identity"]?["userId"] == "ada" && description?["identity"]?["sourceIp"] == "127.0.0.1")
        #expect(try await a.request(.POST, "/@connections/\(idOnB)", body: Array(#"{"hello":"from a"}"#.utf8)).status == 200)
        guard case .text(let text)? = await onB.next() else { throw TestFailure("the post did not arrive") }
        #expect(text == #"{"hello":"from a"}"#)
        #expect(try await a.request(.DELETE, "/@connections/\(idOnB)").status == 204)
        #expect(try await onB.closeCode() == 4003)

        // Gone everywhere: every node answers, so the 410 comes before the 2 s the nodes are given.
        try await waitUntil("node b forgot the connection") { b.application.hub.connections == 0 }
        let started = ContinuousClock.now
        #expect(try await a.request(.GET, "/@connections/\(idOnB)").status == 410)
        #expect(try await a.request(.POST, "/@connections/\(idOnB)", body: Array("x".utf8)).status == 410)
        #expect(try await a.request(.DELETE, "/admin/connections/\(idOnB)").status == 404)
        #expect(ContinuousClock.now - started < .seconds(1.9), "every node answered; nobody waited for the timeout")
        onA.close()
        try await a.stop()
        try await b.stop()
    }

    /// Stores events as a publish would, without announcing them: what a node misses when a notification is lost.
    private func storeUnannounced(_ seqs: ClosedRange<Int>, in database: PostgresURL) async throws {
        var statements: [PostgresQuery] = []
        for seq in seqs {
            let push = #"{"type":"Entity Updated","entityId":"order-7","message":"m\#(seq)","seq":\#(seq),"id":"e\#(seq)","time":"t"}"#
            statements.append("INSERT INTO herald_events (entity_id, seq, push) VALUES ('order-7', \(seq), \(push))")
        }
        statements.append("UPDATE herald_streams SET latest_seq = \(seqs.upperBound) WHERE entity_id = 'order-7'")
        try await TestPostgres.execute(statements, in: database)
    }

    @Test func anEventAheadOfMissingOnesWaitsWhileTheyAreRead() async throws {
        let database = try await TestPostgres.freshDatabase()
        let a = try await node(database)
        let subscriber = try await a.subscriber(to: ["order-7"])
        _ = try await a.publishEntity("order-7", message: "m1")
        try await expectPushes(subscriber, 1...1)
        try await storeUnannounced(2...3, in: database)
        #expect(try await a.publishEntity("order-7", message: "m4")["seq"] == .int(4))
        try await expectPushes(subscriber, 2...4)
        try await subscriber.expectNothingPending()
        try await a.stop()
    }

    @Test func aNodeCatchesUpOnWhatWasStoredWhileItWasNotListening() async throws {
        let database = try await TestPostgres.freshDatabase()
        let a = try await node(database)
        let subscriber = try await a.subscriber(to: ["order-7"])
        _ = try await a.publishEntity("order-7", message: "m1")
        try await expectPushes(subscriber, 1...1)
        try await storeUnannounced(2...3, in: database)
        try await TestPostgres.terminateConnections(to: database)
        // Nothing else is published: only the catch-up after reconnecting can bring 2 and 3.
        try await expectPushes(subscriber, 2...3)
        try await subscriber.expectNothingPending()
        try await a.stop()
    }

    /// The entries of one `POST /events` are one transaction: the database refusing one (a trigger,
    /// here) publishes none, and the next event of the entity is still its first.
    @Test func aBatchIsPublishedWholeOrNotAtAll() async throws {
        let database = try await TestPostgres.freshDatabase()
        let a = try await node(database)
        try await TestPostgres.execute(
            [
                """
                CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN IF NEW.entity_id = 'poison' THEN RAISE EXCEPTION 'poison'; END IF; RETURN NEW; END $$
                """,
                "CREATE TRIGGER refuse_poison BEFORE INSERT ON herald_events FOR EACH ROW EXECUTE FUNCTION refuse_poison()",
            ],
            in: database
        )
        let subscriber = try await a.subscriber(to: ["order-7"])
        let batch =
            #"[{"detail-type":"Entity Updated","detail":{"entityId":"order-7","message":"first"}},"#
            + #"{"detail-type":"Entity Updated","detail":{"entityId":"poison","message":"x"}}]"#
        let refused = try await a.publish("/events", batch)
        #expect(refused.status == 503 && JSON.parse(refused.body)?["reason"] == "broker_unavailable")
        #expect(try await a.publishEntity("order-7", message: "m1")["seq"] == .int(1), "the refused batch used no seq")
        try await expectPushes(subscriber, 1...1)
        try await subscriber.expectNothingPending()
        try await a.stop()
    }

    @Test func withoutItsDatabaseANodeIsNotReadyAndRefusesPublishes() async throws {
        let database = try await TestPostgres.freshDatabase()
        let a = try await node(database)
        try await waitUntilReady(a)
        try await TestPostgres.drop(database)
        let deadline = ContinuousClock.now + .seconds(10)
        while try await a.get("/ready", key: nil).0 == 200 {
            guard ContinuousClock.now < deadline else { throw TestFailure("/ready stayed true without a database") }
            try await Task.sleep(for: .milliseconds(50))
        }
        let (status, body) = try await a.get("/ready", key: nil)
        #expect(status == 503 && body == .object(["ready": .bool(false), "reason": "broker_unavailable"]))
        let refused = try await a.publish("/entities/order-7/updates", #"{"message":"m"}"#)
        #expect(refused.status == 503 && JSON.parse(refused.body)?["reason"] == "broker_unavailable")
        try await a.stop()
    }

    /// A stop cancels the listener; whichever of its tasks ends first, its connection is closed.
    /// (postgres-nio asserts, in debug builds, that a connection is closed before it is freed: a
    /// listener that let one go after a clean cancellation crashed this within ~100 stops.)
    @Test func stoppingANodeClosesItsListeningConnectionEveryTime() async throws {
        let database = try await TestPostgres.freshDatabase()
        for _ in 0..<100 {
            let node = try await node(database)
            try await waitUntilReady(node)
            try await node.stop()
        }
    }

    @Test func anUnreachableDatabaseStopsTheStartNamingTheSetting() async throws {
        let unreachable = try PostgresURL("postgres://herald@127.0.0.1:1/herald?sslmode=disable")
        await #expect {
            _ = try await node(unreachable)
        } throws: { error in
            "\(error)".hasPrefix("--broker: cannot use the database at postgres://herald@127.0.0.1:1/herald?sslmode=disable: ")
        }
    }

    /// The ack's epoch of a new connection subscribing to `entity` on `server`.
    private func ackEpoch(_ server: TestServer, _ entity: String) async throws -> String {
        let socket = try await server.connect()
        defer { socket.close() }
        socket.send(#"{"action":"subscribe","entityId":"\#(entity)"}"#)
        return try #require(try await socket.json()["epoch"]?.stringValue)
    }

    /// The entities that have a row in `table`.
    private func entities(in table: String, of database: PostgresURL) async throws -> Set<String> {
        Set(try await TestPostgres.column(PostgresQuery(unsafeSQL: "SELECT DISTINCT entity_id FROM \(table)"), in: database))
    }

    /// Each entity's stream has its own epoch, and every node (one started later too) acks the same one.
    @Test func everyNodeAcksTheEpochOfTheEntitysStream() async throws {
        let database = try await TestPostgres.freshDatabase()
        let a = try await node(database)
        _ = try await a.publishEntity("order-1", message: "m1")
        let b = try await node(database)
        let epoch = try await ackEpoch(a, "order-1")
        #expect(try await ackEpoch(b, "order-1") == epoch, "b loaded the stream's head with its epoch")
        _ = try await a.publishEntity("order-2", message: "m1")
        try await waitUntilHeard(b, "order-2", seq: 1)
        #expect(try await ackEpoch(b, "order-2") == ackEpoch(a, "order-2"), "b heard the epoch in the notice")
        try await a.stop()
        try await b.stop()
    }

    /// With a 1 s TTL, an entity nobody subscribes to leaves `herald_streams` and `herald_events`
    /// (after the grace period), while one with a subscriber stays; published again, the forgotten
    /// one starts at 1 under a new epoch.
    @Test func forgottenEntitiesLeaveTheDatabase() async throws {
        let database = try await TestPostgres.freshDatabase()
        let a = try await node(database) { $0.history.ttl = .seconds(1) }
        let holder = try await a.subscriber(to: ["held"])
        let heldEpoch = try await ackEpoch(a, "held")
        let goneEpoch = try await ackEpoch(a, "gone")
        _ = try await a.publishEntity("held", message: "m1")
        _ = try await a.publishEntity("gone", message: "m1")
        try await expectPushes(holder, 1...1)
        #expect(try await entities(in: "herald_streams", of: database) == ["held", "gone"])
        let deadline = ContinuousClock.now + .seconds(20)
        while try await entities(in: "herald_streams", of: database) != ["held"] {
            guard ContinuousClock.now < deadline else { throw TestFailure("the forgotten entity's row stayed") }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(try await !entities(in: "herald_events", of: database).contains("gone"))
        #expect(try await a.publishEntity("gone", message: "m1")["seq"] == .int(1))
        #expect(try await ackEpoch(a, "gone") != goneEpoch)
        #expect(try await a.publishEntity("held", message: "m2")["seq"] == .int(2))
        #expect(try await ackEpoch(a, "held") == heldEpoch)
        try await expectPushes(holder, 2...2)
        try await a.stop()
    }

    /// The race the grace period leaves: the database forgot a stream a node has a subscriber for.
    /// When the entity is published again, that subscriber is told (`recovered:false`, the new
    /// epoch) before the new stream's first event, which is delivered, not taken for a duplicate.
    @Test func aStreamStartedAgainInTheDatabaseResetsTheNodesSubscribersFirst() async throws {
        let database = try await TestPostgres.freshDatabase()
        let (a, b) = (try await node(database), try await node(database))
        let subscriber = try await a.subscriber(to: ["order-7"])
        for seq in 1...2 { _ = try await a.publishEntity("order-7", message: "m\(seq)") }
        try await expectPushes(subscriber, 1...2)
        // What a sweep does when it forgets the stream (it also gives new streams a new epoch).
        try await TestPostgres.execute(
            [
                "DELETE FROM herald_streams WHERE entity_id = 'order-7'",
                "DELETE FROM herald_events WHERE entity_id = 'order-7'",
                "UPDATE herald_meta SET value = 'started-again' WHERE key = 'stream_epoch'",
            ],
            in: database
        )
        #expect(try await b.publishEntity("order-7", message: "n1")["seq"] == .int(1))
        #expect(
            try await subscriber.json()
                == .object([
                    "type": "subscribed", "entityId": "order-7", "recovered": .bool(false), "epoch": "started-again",
                ])
        )
        try await expectPushes(subscriber, 1...1, prefix: "n")
        _ = try await a.publishEntity("order-7", message: "n2")
        try await expectPushes(subscriber, 2...2, prefix: "n")
        try await subscriber.expectNothingPending()
        try await a.stop()
        try await b.stop()
    }

    /// Waits until `server`'s history of `entity` reaches `seq` (its listener has heard it).
    /// Each probe is a new connection: a second subscribe on one connection is acked as live.
    private func waitUntilHeard(_ server: TestServer, _ entity: String = "order-7", seq: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            let probe = try await server.connect()
            defer { probe.close() }
            probe.send(#"{"action":"subscribe","entityId":"\#(entity)","since":\#(seq)}"#)
            let ack = try await probe.json()
            if ack["recovered"] == .bool(true) { return }
            guard ContinuousClock.now < deadline else { throw TestFailure("node never heard seq \(seq)") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    private func waitUntilReady(_ server: TestServer) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while try await server.get("/ready", key: nil).0 != 200 {
            guard ContinuousClock.now < deadline else { throw TestFailure("the node did not become ready") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
