import Foundation
import HeraldClient
import HeraldCore
import HeraldPostgres
import HeraldServer
import HeraldTokens
import NIOCore
import NIOHTTP1
import PostgresNIO
import Synchronization
import Testing

/// `/herald.js` as served, run by Node (its WebSocket is undici's, a real client) against a live server.
///
/// Needs Node 20.10 or later on PATH (Node 20 gets `--experimental-websocket`).
@Suite struct HeraldJSTests {
    @Test func servedAsAModuleForAnyOrigin() async throws {
        let server = try await TestServer.start()
        let response = try await server.request(.GET, "/herald.js", key: nil)
        #expect(response.status == 200)
        #expect(response.headers["Content-Type"].first == "text/javascript; charset=utf-8")
        #expect(response.headers["Access-Control-Allow-Origin"].first == "*")
        #expect(String(buffer: response.body).contains("export class Herald"))
        try await server.stop()
    }

    @Test func deliversEntityUpdatesInOrderAndUserNotifications() async throws {
        let server = try await TestServer.start()
        let client = try await NodeClient.start(server)
        client.send(#"{"op":"subscribe","entityId":"order-7"}"#)
        #expect(try await client.next("subscribed") == .object(["event": "subscribed", "entityId": "order-7", "recovered": .bool(true)]))
        for seq in 1...3 { _ = try await server.publishEntity("order-7", message: "m\(seq)") }
        #expect(try await client.entitySeqs(3) == [1, 2, 3])
        #expect(try await server.publish("/users/myuserid/notifications", #"{"message":"done"}"#).status == 202)
        #expect(try await client.next("notification")["message"] == "done")
        client.send(#"{"op":"unsubscribe","entityId":"order-7"}"#)
        try await waitUntil("the client unsubscribed") { server.application.hub.subscriptions == 0 }
        try await server.stop()
    }

    /// The server ends the connection (4002); the client's next token is held back while events
    /// are published; it reconnects, resumes with `since`, and gets exactly the missed ones, then live ones.
    @Test func reconnectsAndResumesWithNoGapAndNoDuplicate() async throws {
        // 3 s: room for the first push before the server ends the connection, on a loaded machine.
        let server = try await TestServer.start { $0.limits.maxConnectionLifetime = .seconds(3) }
        let client = try await NodeClient.start(server, holdingReconnects: true)
        client.send(#"{"op":"subscribe","entityId":"order-7"}"#)
        try await waitUntil("the client subscribed") { server.application.hub.subscriptions == 1 }
        _ = try await server.publishEntity("order-7", message: "m1")
        #expect(try await client.entitySeqs(1) == [1])
        _ = try await client.next("held")  // closed, and asking for its next token
        for seq in 2...5 { _ = try await server.publishEntity("order-7", message: "m\(seq)") }  // missed while away
        client.send(#"{"op":"release"}"#)
        #expect(try await client.next("state", where: { $0["state"] == "open" })["state"] == "open")
        try await waitUntil("the client subscribed again") { server.application.hub.subscriptions == 1 }
        _ = try await server.publishEntity("order-7", message: "m6")
        #expect(try await client.entitySeqs(5) == [2, 3, 4, 5, 6])
        #expect(client.seen("reset").isEmpty)
        try await server.stop()
    }

    @Test func whenHistoryCannotReachBackTheAppIsToldToReload() async throws {
        let server = try await TestServer.start {
            $0.limits.maxConnectionLifetime = .seconds(3)
            $0.history.size = 2
        }
        let client = try await NodeClient.start(server, holdingReconnects: true)
        client.send(#"{"op":"subscribe","entityId":"order-7"}"#)
        try await waitUntil("the client subscribed") { server.application.hub.subscriptions == 1 }
        _ = try await server.publishEntity("order-7", message: "m1")
        #expect(try await client.entitySeqs(1) == [1])
        _ = try await client.next("held")
        for seq in 2...6 { _ = try await server.publishEntity("order-7", message: "m\(seq)") }
        client.send(#"{"op":"release"}"#)
        #expect(try await client.next("reset")["entityId"] == "order-7")
        #expect(try await client.entitySeqs(2) == [5, 6], "the kept tail follows the reset")
        try await server.stop()
    }

    /// A cluster node tells its subscribers when the database started an entity's stream again
    /// (an unsolicited `subscribed` with `recovered:false` and the new epoch): herald.js resets the
    /// entity, so the new stream's events, numbered from 1 again, are delivered, not dropped.
    @Test func aStreamStartedAgainIsAResetAndItsEventsArrive() async throws {
        let database = try await TestPostgres.freshDatabase()
        let server = try await ClusterNodes.node(database)
        let client = try await NodeClient.start(server)
        client.send(#"{"op":"subscribe","entityId":"order-7"}"#)
        _ = try await client.next("subscribed")
        for seq in 1...2 { _ = try await server.publishEntity("order-7", message: "m\(seq)") }
        #expect(try await client.entitySeqs(2) == [1, 2])
        // What the sweep does when it forgets the stream, as a node with a new subscriber races it.
        try await TestPostgres.execute(
            [
                "DELETE FROM herald_streams WHERE entity_id = 'order-7'",
                "DELETE FROM herald_events WHERE entity_id = 'order-7'",
                "UPDATE herald_meta SET value = 'started-again' WHERE key = 'stream_epoch'",
            ],
            in: database
        )
        _ = try await server.publishEntity("order-7", message: "n1")
        #expect(try await client.next("reset")["entityId"] == "order-7")
        #expect(try await client.entitySeqs(1) == [1])
        #expect(client.seen("subscribed").last?["recovered"] == .bool(false))
        try await server.stop()
    }

    @Test func anAdministratorsCloseIsFinal() async throws {
        let server = try await TestServer.start()
        let client = try await NodeClient.start(server)
        _ = try await client.next("state", where: { $0["state"] == "open" })
        let id = try await server.connectionID(of: "myuserid")
        #expect(try await server.request(.DELETE, "/admin/connections/\(id)").status == 204)
        #expect(try await client.next("closed")["code"] == .int(4003))
        client.send(#"{"op":"status"}"#)
        #expect(try await client.next("status") == .object(["event": "status", "state": "closed", "stopped": .bool(true)]))
        #expect(client.seen("state").filter { $0["state"] == "connecting" }.count == 1, "it never tried again")
        try await server.stop()
    }

    /// Tokens live 3 s and the server allows no leeway: the client refreshes on the same
    /// connection before each expiry, so a push published after the first token's expiry still arrives.
    @Test func refreshesTheTokenBeforeItExpires() async throws {
        let server = try await TestServer.start { $0.tokens.leeway = .zero }
        let client = try await NodeClient.start(server, tokenTTL: 3, refreshBefore: 2)
        client.send(#"{"op":"subscribe","entityId":"order-7"}"#)
        try await waitUntil("the client subscribed") { server.application.hub.subscriptions == 1 }
        #expect(try await client.next("token", where: { $0["count"] == .int(3) }, timeout: .seconds(10))["count"] == .int(3))
        _ = try await server.publishEntity("order-7", message: "after the first expiry")
        #expect(try await client.entitySeqs(1) == [1])
        #expect(client.seen("state").filter { $0["state"] == "open" }.count == 1, "one connection throughout")
        #expect(client.seen("closed").isEmpty && client.seen("error").isEmpty)
        try await server.stop()
    }

    /// The refreshed token allows `a` only: the server ends `b`, and herald.js tells the app and
    /// drops `b` from what it subscribes to again after a reconnection.
    @Test func aSubscriptionTheRefreshedTokenNoLongerAllowsIsDropped() async throws {
        let server = try await TestServer.start { $0.tokens.entitiesClaim = "entities" }
        let client = try await NodeClient.start(server, tokenTTL: 3, refreshBefore: 2, entities: (first: ["a", "b"], later: ["a"]))
        client.send(#"{"op":"subscribe","entityId":"a"}"#)
        client.send(#"{"op":"subscribe","entityId":"b"}"#)
        _ = try await client.next("subscribed", where: { $0["entityId"] == "b" })
        #expect(
            try await client.next("unsubscribed", timeout: .seconds(10))
                == .object(["event": "unsubscribed", "entityId": "b", "reason": "forbidden"])
        )
        client.send(#"{"op":"entities"}"#)
        #expect(try await client.next("entities")["entities"] == ["a"])
        #expect(server.application.hub.subscriptions == 1)
        _ = try await server.publishEntity("b", message: "revoked")
        _ = try await server.publishEntity("a", message: "allowed")
        #expect(try await client.next("entity") == .object(["event": "entity", "entityId": "a", "seq": .int(1), "message": "allowed"]))
        #expect(client.seen("error").isEmpty)
        try await server.stop()
    }

    /// What a proxy in front of Herald sees of the upgrade: by default the token is in
    /// `Sec-WebSocket-Protocol` after `websocket`, and the URL carries none.
    @Test func theTokenTravelsInTheSubprotocolNotInTheURL() async throws {
        let server = try await TestServer.start()
        let relay = try await RecordingRelay.start(to: server.port)
        let client = try await NodeClient.start(server, url: "ws://127.0.0.1:\(relay.port)/")
        client.send(#"{"op":"subscribe","entityId":"order-7"}"#)
        _ = try await client.next("subscribed")
        _ = try await server.publishEntity("order-7", message: "through the relay")
        #expect(try await client.next("entity")["message"] == "through the relay")
        let head = try #require(relay.heads.first)
        let lines = head.split(separator: "\r\n").map(String.init)
        #expect(lines.first == "GET / HTTP/1.1")
        let protocols = lines.filter { $0.lowercased().hasPrefix("sec-websocket-protocol:") }
        #expect(protocols.count == 1)
        let values =
            protocols.first.map { $0.drop { $0 != ":" }.dropFirst().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } } ?? []
        #expect(values.count == 2 && values.first == "websocket")
        #expect(values.last.map { $0.split(separator: ".").count == 3 && $0.hasPrefix("eyJ") } == true, "the second value is the JWT")
        #expect(!head.contains("access_token") && !head.contains("token="))
        try await relay.stop()
        try await server.stop()
    }

    /// `tokenIn: "query"` keeps the older form: `?access_token=` and no subprotocol.
    @Test func theQueryFormIsAnOption() async throws {
        let server = try await TestServer.start()
        let relay = try await RecordingRelay.start(to: server.port)
        let client = try await NodeClient.start(server, url: "ws://127.0.0.1:\(relay.port)/", tokenIn: "query")
        _ = try await client.next("state", where: { $0["state"] == "open" })
        let head = try #require(relay.heads.first)
        #expect(head.hasPrefix("GET /?access_token=eyJ"))
        #expect(!head.lowercased().contains("sec-websocket-protocol"))
        try await relay.stop()
        try await server.stop()
    }
}

/// A Node process running `/herald.js` (fetched from the server) through a small driver that
/// takes commands on stdin and prints each client event as a JSON line.
private final class NodeClient: Sendable {
    private let process: Process
    private let input: FileHandle
    private let lines = Lines()

    /// What the driver printed: the incomplete tail, the events not yet taken, every event.
    private final class Lines: Sendable {
        let state = Mutex<(pending: Data, unread: [JSONValue], seen: [JSONValue])>((Data(), [], []))
    }

    static func start(
        _ server: TestServer,
        url: String? = nil,
        tokenIn: String? = nil,
        user: String = "myuserid",
        tokenTTL: Int = 3600,
        refreshBefore: Int = 60,
        holdingReconnects: Bool = false,
        entities: (first: [String], later: [String])? = nil
    ) async throws -> NodeClient {
        try await requireNode()
        let folder = FileManager.default.temporaryDirectory.appending(path: "herald-js-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let script = try await server.request(.GET, "/herald.js", key: nil)
        try Data(script.body.readableBytesView).write(to: folder.appending(path: "herald.js"))
        try Data(driver.utf8).write(to: folder.appending(path: "driver.mjs"))
        let environment = [
            "HERALD_URL": url ?? server.wsURL, "HERALD_TOKEN_IN": tokenIn ?? "", "HERALD_SECRET": TestServer.secret, "HERALD_USER": user,
            "HERALD_TTL": "\(tokenTTL)",
            "HERALD_REFRESH_BEFORE": "\(refreshBefore)", "HERALD_HOLD": holdingReconnects ? "1" : "0",
            "HERALD_ENTITIES": entities.map { $0.first.joined(separator: ",") } ?? "",
            "HERALD_LATER_ENTITIES": entities.map { $0.later.joined(separator: ",") } ?? "",
        ]
        return try NodeClient(folder: folder, environment: environment)
    }

    /// Fails with a plain reason unless `node` 20.10 or later is on PATH.
    private static func requireNode() async throws {
        let (status, version, _) = try await runToEnd("/usr/bin/env", ["node", "--version"])
        let parts = version.dropFirst().split(separator: ".").compactMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        guard status == 0, parts.count >= 2, (parts[0], parts[1]) >= (20, 10) else {
            throw TestFailure("the herald.js tests need Node 20.10 or later on PATH (found: \(version.isEmpty ? "none" : version))")
        }
    }

    private init(folder: URL, environment: [String: String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["node", "--experimental-websocket", folder.appending(path: "driver.mjs").path]
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let (stdin, stdout) = (Pipe(), Pipe())
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        self.process = process
        self.input = stdin.fileHandleForWriting
        let lines = self.lines
        stdout.fileHandleForReading.readabilityHandler = { handle in
            let chunk = handle.availableData
            if chunk.isEmpty { handle.readabilityHandler = nil }
            lines.state.withLock { state in
                state.pending.append(chunk)
                while let newline = state.pending.firstIndex(of: UInt8(ascii: "\n")) {
                    if let event = JSON.parse(state.pending[..<newline]) {
                        state.unread.append(event)
                        state.seen.append(event)
                    }
                    state.pending.removeSubrange(...newline)
                }
            }
        }
        try process.run()
    }

    deinit {
        try? input.close()  // the driver exits when its stdin ends
        if process.isRunning { process.terminate() }
    }

    func send(_ command: String) {
        input.write(Data((command + "\n").utf8))
    }

    /// The next unread event of `kind` (that `matches`), skipping others; fails after `timeout`.
    func next(_ kind: String, where matches: (JSONValue) -> Bool = { _ in true }, timeout: Duration = .seconds(5)) async throws -> JSONValue {
        let deadline = ContinuousClock.now + timeout
        while true {
            let found = lines.state.withLock { state -> JSONValue? in
                guard let index = state.unread.firstIndex(where: { $0["event"] == .string(kind) && matches($0) }) else { return nil }
                defer { state.unread.removeSubrange(...index) }
                return state.unread[index]
            }
            if let found { return found }
            guard ContinuousClock.now < deadline, process.isRunning else {
                throw TestFailure("no \(kind) event from herald.js; saw \(lines.state.withLock { $0.seen })")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// The seqs of the next `count` entity updates.
    func entitySeqs(_ count: Int) async throws -> [Int] {
        var seqs: [Int] = []
        for _ in 0..<count {
            guard case .int(let seq)? = try await next("entity")["seq"] else { throw TestFailure("an update without seq") }
            seqs.append(seq)
        }
        return seqs
    }

    /// Every event of `kind` printed so far.
    func seen(_ kind: String) -> [JSONValue] {
        lines.state.withLock { $0.seen.filter { $0["event"] == .string(kind) } }
    }

    private static let driver = #"""
        import { Herald } from "./herald.js";
        import { createHmac } from "node:crypto";
        import { createInterface } from "node:readline";

        const env = process.env;
        const out = (value) => process.stdout.write(JSON.stringify(value) + "\n");
        let tokens = 0;
        let release = null;
        async function mint() {
          tokens += 1;
          // With HERALD_HOLD, a token for a new connection waits for a "release" command.
          if (tokens > 1 && env.HERALD_HOLD === "1" && herald.state !== "open") {
            out({ event: "held" });
            await new Promise((done) => { release = done; });
          }
          const part = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
          const header = part({ alg: "HS256", typ: "JWT" });
          const claims = { exp: Math.floor(Date.now() / 1000) + Number(env.HERALD_TTL), data: { userId: env.HERALD_USER } };
          // With HERALD_ENTITIES, the first token allows those entities, later ones HERALD_LATER_ENTITIES.
          if (env.HERALD_ENTITIES) claims.entities = (tokens > 1 ? env.HERALD_LATER_ENTITIES : env.HERALD_ENTITIES).split(",").filter(Boolean);
          const payload = part(claims);
          const signature = createHmac("sha256", env.HERALD_SECRET).update(`${header}.${payload}`).digest("base64url");
          out({ event: "token", count: tokens });
          return `${header}.${payload}.${signature}`;
        }
        const herald = new Herald({
          url: env.HERALD_URL, token: mint, initialDelay: 20, maxDelay: 200, refreshBefore: Number(env.HERALD_REFRESH_BEFORE),
          ...(env.HERALD_TOKEN_IN ? { tokenIn: env.HERALD_TOKEN_IN } : {}),
        });
        herald.on("state", (state) => out({ event: "state", state }));
        herald.on("notification", (note) => out({ event: "notification", message: note.message }));
        herald.on("reset", ({ entityId }) => out({ event: "reset", entityId }));
        herald.on("subscribed", ({ entityId, recovered }) => out({ event: "subscribed", entityId, recovered }));
        herald.on("unsubscribed", ({ entityId, reason }) => out({ event: "unsubscribed", entityId, reason }));
        herald.on("error", ({ code }) => out({ event: "error", code }));
        herald.on("closed", ({ code }) => out({ event: "closed", code }));
        const stops = new Map();
        const commands = createInterface({ input: process.stdin });
        commands.on("line", (line) => {
          const command = JSON.parse(line);
          if (command.op === "subscribe") {
            stops.set(command.entityId, herald.subscribe(command.entityId, (update) =>
              out({ event: "entity", entityId: update.entityId, seq: update.seq, message: update.message })));
          } else if (command.op === "unsubscribe") {
            stops.get(command.entityId)?.();
          } else if (command.op === "release") {
            release?.();
          } else if (command.op === "entities") {
            out({ event: "entities", entities: [...herald.entities.keys()] });
          } else if (command.op === "status") {
            out({ event: "status", state: herald.state, stopped: herald.stopped });
          }
        });
        commands.on("close", () => { herald.close(); process.exit(0); });
        """#
}
