import Foundation
import HeraldClient
import HeraldCore
import HeraldPostgres
import HeraldServer
import NIOHTTP1
import PostgresNIO
import Testing

/// A database role is not a cluster node: a role with `LOGIN` and no privilege on any table,
/// connected to the cluster's database, can `LISTEN` and `NOTIFY` on the nodes' channel. It must
/// read nothing there, and nothing it sends — forged, random or copied — may reach a client.
@Suite struct ClusterIntruderTests {
    private let channel = "herald_events"
    private let user = "ada-lovelace-1815"
    private let entity = "order-secret-4711"

    /// Everything the role heard on the nodes' channel so far.
    private func noticesHeard(by intruder: DatabaseIntruder) async throws -> [String] {
        try await intruder.heardSoFar().filter { $0.channel == channel }.map(\.payload)
    }

    private func rejected(_ server: TestServer, _ reason: String) async throws -> Double {
        try await server.metrics()[#"herald_cluster_notices_rejected_total{reason="\#(reason)"}"#] ?? -1
    }

    private func expectPush(_ socket: HeraldSocket, seq: Int, message: String) async throws {
        let push = try await socket.json()
        #expect(push["type"] == "Entity Updated" && push["seq"] == .int(seq) && push["message"] == .string(message), "\(push)")
    }

    private func expectNotification(_ socket: HeraldSocket, message: String) async throws {
        let push = try await socket.json()
        #expect(push["type"] == "User Push Notification" && push["message"] == .string(message), "\(push)")
    }

    @Test func aRoleThatIsNotANodeReadsNothingOnTheChannelNorInTheTables() async throws {
        let database = try await TestPostgres.freshDatabase()
        let (a, b) = (try await ClusterNodes.node(database), try await ClusterNodes.node(database))
        let intruder = try await DatabaseIntruder.connect(to: database)
        try await intruder.listen(on: channel)
        let onB = try await b.subscriber(user: user, to: [entity])
        let connectionID = try await b.connectionID(of: user)
        let large = String(repeating: "large-body-e81d-", count: 1_000)
        let secrets = ["entity-message-9a3f", "user-message-77c1", "frame-text-5be2c0", large]

        _ = try await a.publishEntity(entity, message: secrets[0])
        #expect(try await a.publish("/users/\(user)/notifications", #"{"message":"\#(secrets[1])"}"#).status == 202)
        #expect(try await a.request(.POST, "/@connections/\(connectionID)", body: Array(secrets[2].utf8)).status == 200)
        _ = try await a.publishEntity(entity, message: large)
        #expect(try await a.connectionID(of: user) == connectionID, "node a asked node b")
        try await expectPush(onB, seq: 1, message: secrets[0])
        try await expectNotification(onB, message: secrets[1])
        guard case .text(let frame)? = await onB.next() else { throw TestFailure("the @connections post did not arrive") }
        #expect(frame == secrets[2])
        try await expectPush(onB, seq: 2, message: large)

        let heard = try await noticesHeard(by: intruder)
        #expect(heard.count >= 6, "the role heard the nodes' notices (events, questions, answers): \(heard.count)")
        let plaintexts =
            secrets.map { String($0.prefix(16)) } + [user, entity, connectionID, "Entity Updated", "User Push", "connectionId", "\"op\""]
        for notice in heard {
            let decoded = Data(base64Encoded: notice).map { String(decoding: $0, as: UTF8.self) } ?? ""
            for plaintext in plaintexts {
                #expect(!notice.contains(plaintext) && !decoded.contains(plaintext), "a notice shows \(plaintext): \(notice.prefix(200))")
            }
        }
        // What is too large for a notice is in the tables, which the role cannot read.
        for table in ["herald_events", "herald_payloads", "herald_streams", "herald_nodes", "herald_meta"] {
            await #expect(throws: PSQLError.self, "\(table) is closed to the role") {
                _ = try await intruder.query(PostgresQuery(unsafeSQL: "SELECT count(*)::text FROM \(table)"))
            }
        }
        await intruder.close()
        try await a.stop()
        try await b.stop()
    }

    @Test func noticesTheRoleForgesReachNoClient() async throws {
        let database = try await TestPostgres.freshDatabase()
        let (a, b) = (try await ClusterNodes.node(database), try await ClusterNodes.node(database))
        let intruder = try await DatabaseIntruder.connect(to: database)
        let onB = try await b.subscriber(user: user, to: [entity])
        _ = try await a.publishEntity(entity, message: "m1")
        try await expectPush(onB, seq: 1, message: "m1")
        let probe = try await b.connect()
        probe.send(#"{"action":"subscribe","entityId":"\#(entity)"}"#)
        let epoch = try #require(try await probe.json()["epoch"]?.stringValue)
        probe.close()
        let connectionID = try await b.connectionID(of: user)

        func forgedPush(_ seq: Int) -> String {
            #"{"type":"Entity Updated","entityId":"\#(entity)","message":"forged","seq":\#(seq),"id":"x","time":"t"}"#
        }
        let randomText = String((0..<300).map { _ in "abcdefghijklmnopqrstuvwxyz0123456789+/=".randomElement()! })
        let randomBytes = (0..<300).map { _ in UInt8.random(in: 0...255) }
        let forged = [
            // The notices of today's format: an event far ahead (which held the entity's real events back as a gap),
            // the next event, a user notification, an @connections post and a close.
            "e\n1000\n\(epoch)\n\(entity)\n\(forgedPush(1000))",
            "e\n2\n\(epoch)\n\(entity)\n\(forgedPush(2))",
            "u\n\(user)\n{\"type\":\"User Push Notification\",\"message\":\"forged\"}",
            "q\nforged-1\nintruder\n{\"op\":\"post\",\"connectionId\":\"\(connectionID)\",\"data\":\"forged frame\"}",
            "q\nforged-2\nintruder\n{\"op\":\"delete\",\"connectionId\":\"\(connectionID)\"}",
            // Random text, random bytes in base64, and random bytes shaped like a sealed notice (its version first).
            randomText,
            Data([0x7f] + randomBytes).base64EncodedString(),
            Data([1] + randomBytes).base64EncodedString(),
        ]
        for payload in forged { try await intruder.notify(channel, payload) }

        // The next real events come next, in order: nothing forged came before them, nothing held them back.
        #expect(try await a.publishEntity(entity, message: "m2")["seq"] == .int(2))
        #expect(try await a.publish("/users/\(user)/notifications", #"{"message":"genuine"}"#).status == 202)
        try await expectPush(onB, seq: 2, message: "m2")
        try await expectNotification(onB, message: "genuine")
        try await onB.expectNothingPending()
        #expect(try await rejected(b, "malformed") == 7)
        #expect(try await rejected(b, "unauthenticated") == 1)
        try await waitUntilAsync("node a dropped them too") { try await rejected(a, "malformed") == 7 }
        await intruder.close()
        try await a.stop()
        try await b.stop()
    }

    @Test func aCopyOfAGenuineNoticeIsNotDeliveredAgain() async throws {
        let database = try await TestPostgres.freshDatabase()
        let (a, b) = (try await ClusterNodes.node(database), try await ClusterNodes.node(database))
        let intruder = try await DatabaseIntruder.connect(to: database)
        try await intruder.listen(on: channel)
        let onB = try await b.subscriber(user: user, to: [entity])
        let connectionID = try await b.connectionID(of: user)
        _ = try await a.publishEntity(entity, message: "m1")
        #expect(try await a.publish("/users/\(user)/notifications", #"{"message":"n1"}"#).status == 202)
        #expect(try await a.request(.POST, "/@connections/\(connectionID)", body: Array("f1".utf8)).status == 200)
        try await expectPush(onB, seq: 1, message: "m1")
        try await expectNotification(onB, message: "n1")
        guard case .text("f1")? = await onB.next() else { throw TestFailure("the @connections post did not arrive") }
        let captured = try await noticesHeard(by: intruder)
        #expect(captured.count >= 4, "the event, the notification, the question and its answer: \(captured.count)")

        // A node started after the capture has heard nothing of the senders yet: a copy is still not news to it.
        let c = try await ClusterNodes.node(database)
        try await waitUntilAsync("node c listens") { try await c.get("/ready", key: nil).0 == 200 }
        let onC = try await c.subscriber(user: user, to: [entity])
        for notice in captured { try await intruder.notify(channel, notice) }
        _ = try await a.publishEntity(entity, message: "m2")
        #expect(try await a.publish("/users/\(user)/notifications", #"{"message":"n2"}"#).status == 202)
        for socket in [onB, onC] {
            try await expectPush(socket, seq: 2, message: "m2")
            try await expectNotification(socket, message: "n2")
            try await socket.expectNothingPending()
        }
        #expect(try await rejected(b, "replayed") == Double(captured.count))
        // Node a delivered nothing here, so its listener may still be on its way through them.
        try await waitUntilAsync("node a dropped every copy") { try await rejected(a, "replayed") == Double(captured.count) }
        #expect(try await rejected(c, "stale") == Double(captured.count))
        await intruder.close()
        for node in [a, b, c] { try await node.stop() }
    }

    /// While every node moves to a new secret, a node with the new one and the old one as
    /// `previous` opens the notices of a node still on the old one; a node on the old one alone
    /// does not believe the new one.
    @Test func thePreviousSecretOpensNoticesWhileTheSecretChanges() async throws {
        let database = try await TestPostgres.freshDatabase()
        let new = try #require(ClusterSecret("a-new-cluster-secret-0123456789abcdef-0123456789"))
        let a = try await ClusterNodes.node(database)
        let b = try await ClusterNodes.node(database, secret: new, previous: ClusterNodes.secret)
        let onB = try await b.subscriber(user: user, to: [entity])
        _ = try await a.publishEntity(entity, message: "m1")
        try await expectPush(onB, seq: 1, message: "m1")
        #expect(try await b.publish("/users/\(user)/notifications", #"{"message":"n1"}"#).status == 202)
        try await expectNotification(onB, message: "n1")
        try await waitUntilAsync("node a dropped b's notice") { try await rejected(a, "unauthenticated") == 1 }
        try await a.stop()
        try await b.stop()
    }

    /// The roles OPERATIONS §13 names: the owner migrates; the nodes' role, with rights on the
    /// tables only, runs them; once `PUBLIC` may no longer connect, a role without `CONNECT` cannot.
    @Test func nodesRunAsTheirOwnRoleAndOthersCannotConnect() async throws {
        let database = try await TestPostgres.freshDatabase()
        try await ClusterNodes.node(database).stop()  // as the owner: creates the tables
        let role = "herald_node_\(UInt64.random(in: 1...UInt64.max))"
        try await TestPostgres.execute(
            [
                PostgresQuery(unsafeSQL: "CREATE ROLE \(role) LOGIN PASSWORD 'node-password'"),
                PostgresQuery(unsafeSQL: "REVOKE CONNECT ON DATABASE \(database.database) FROM PUBLIC"),
                PostgresQuery(unsafeSQL: "GRANT CONNECT ON DATABASE \(database.database) TO \(role)"),
                PostgresQuery(unsafeSQL: "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO \(role)"),
                PostgresQuery(unsafeSQL: "GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO \(role)"),
            ],
            in: database
        )
        var asNode = database
        asNode.username = role
        asNode.password = "node-password"
        let (a, b) = (try await ClusterNodes.node(asNode), try await ClusterNodes.node(asNode))
        let onB = try await b.subscriber(user: user, to: [entity])
        let large = String(repeating: "large-", count: 2_000)
        _ = try await a.publishEntity(entity, message: large)
        #expect(try await a.publish("/users/\(user)/notifications", #"{"message":"\#(large)"}"#).status == 202)
        try await expectPush(onB, seq: 1, message: large)
        try await expectNotification(onB, message: large)
        #expect(try await a.connectionID(of: user) == b.connectionID(of: user))
        await #expect(throws: PSQLError.self, "a role without CONNECT") { _ = try await DatabaseIntruder.connect(to: database) }
        try await a.stop()
        try await b.stop()
    }

    private func waitUntilAsync(_ what: String, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while try await !condition() {
            guard ContinuousClock.now < deadline else { throw TestFailure("not within 10 s: \(what)") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
