import Foundation
import HeraldClient
import HeraldCore
import HeraldTokens
import Logging
import Synchronization
import Testing

@testable import HeraldServer

/// The connect and disconnect lines of OPERATIONS.md §2: connection id, user id, source IP, duration and
/// close code, and never the token.
@Suite struct LogLineTests {
    @Test func connectAndDisconnectAreLoggedWithoutTheToken() async throws {
        let records = LogRecords()
        let logger = Logger(label: "herald.test") { _ in RecordingLogHandler(records: records) }
        let server = try await TestServer.start(logger: logger)
        let token = try await server.token(user: "log-user")
        let socket = try await HeraldSocket.connect(url: server.wsURL + "?access_token=" + token)
        let id = try await server.connectionID(of: "log-user")
        socket.close(code: 1000)
        #expect(try await socket.closeCode() == 1000)
        try await waitUntil("the disconnect is logged") { records.lines.contains { $0.message == "Disconnected" } }

        let connected = try #require(records.lines.first { $0.message == "Connected" })
        #expect(connected.metadata["herald.connection.id"] == id)
        #expect(connected.metadata["herald.user.id"] == "log-user")
        #expect(connected.metadata["herald.source.ip"] == "127.0.0.1")
        let disconnected = try #require(records.lines.first { $0.message == "Disconnected" })
        #expect(disconnected.metadata["herald.connection.id"] == id)
        #expect(disconnected.metadata["herald.user.id"] == "log-user")
        #expect(disconnected.metadata["herald.source.ip"] == "127.0.0.1")
        #expect(disconnected.metadata["herald.close.code"] == "1000")
        let duration = try #require(disconnected.metadata["herald.duration.seconds"].flatMap(Double.init))
        #expect(duration >= 0 && duration < 30)
        #expect(!records.lines.contains { "\($0)".contains(token) || "\($0)".contains(TestServer.publishKey) })
        try await server.stop()
    }

    @Test func jsonLinesCarryTheMetadata() throws {
        let line = LogLineHandler.line(
            .json,
            label: "herald",
            level: .info,
            message: "Disconnected",
            metadata: ["herald.close.code": "4003"],
            time: Date(timeIntervalSince1970: 0)
        )
        #expect(
            String(decoding: line, as: UTF8.self)
                == #"{"herald.close.code":"4003","label":"herald","level":"info","message":"Disconnected","time":"1970-01-01T00:00:00.000Z"}"# + "\n"
        )
    }

    /// A value from outside (here a user id) cannot add a field or split the line, in either format.
    @Test func valuesCannotForgeAFieldOrALine() throws {
        let forged = "bob herald.source.ip=6.6.6.6 herald.user.id=admin"
        let metadata = ["herald.source.ip": "127.0.0.1", "herald.user.id": forged, "error": "a\u{2028}b\nc\"d\\e\u{202E}f\u{1}"]
        let text = LogLineHandler.line(
            .text,
            label: "herald",
            level: .info,
            message: "Connected",
            metadata: metadata,
            time: Date(timeIntervalSince1970: 0)
        )
        #expect(
            String(decoding: text, as: UTF8.self)
                == #"1970-01-01T00:00:00.000Z info herald: Connected error="a\u{2028}b\nc\"d\\e\u{202e}f\u{1}" herald.source.ip=127.0.0.1 herald.user.id="bob herald.source.ip=6.6.6.6 herald.user.id=admin""#
                + "\n"
        )
        let json = LogLineHandler.line(
            .json,
            label: "herald",
            level: .info,
            message: "Connected",
            metadata: metadata,
            time: Date(timeIntervalSince1970: 0)
        )
        let jsonText = String(decoding: json, as: UTF8.self)
        #expect(jsonText.contains(#""error":"a\u2028b\nc\"d\\e\u202ef\u0001""#), "\(jsonText)")
        // One line, and every value reads back exactly.
        #expect(jsonText.unicodeScalars.filter { $0 == "\n" || $0 == "\u{2028}" || $0 == "\u{2029}" }.count == 1)
        let parsed = try #require(JSON.parse(Array(json.dropLast())))
        #expect(parsed["herald.user.id"] == .string(forged))
        #expect(parsed["error"] == .string(metadata["error"]!))
    }

    /// The real `serve --log-format text`: a user id made to look like more fields stays one quoted value.
    @Test func aForgedUserIDStaysOneFieldInTheTextLog() async throws {
        let secret = "log-test-secret-0123456789abcdef-0123456789abcdef"
        let serve = try HeraldProcess(
            CommandLineTests.binary,
            ["serve", "--port", "0", "--host", "127.0.0.1"],
            environment: ["HERALD_JWT_SECRET": secret, "HERALD_PUBLISH_KEY": "log-key", "HERALD_LOG_FORMAT": "text"]
        )
        let listening = try #require(await serve.line(timeout: .seconds(20)))
        let port = try #require(listening.wholeMatch(of: /listening on ws:\/\/127\.0\.0\.1:(\d+)\//)?.1)
        var claims = TokenIssuer.Claims()
        claims.userID = "bob herald.source.ip=6.6.6.6 herald.user.id=admin"
        let token = try await TokenIssuer(secret: secret).token(for: claims)
        let socket = try await HeraldSocket.connect(url: "ws://127.0.0.1:\(port)/?access_token=\(token)")
        socket.close(code: 1000)
        _ = try await socket.closeCode()
        serve.signal(SIGTERM)
        let logs = await serve.standardError()
        let connected = try #require(logs.split(separator: "\n").first { $0.contains(" Connected ") }, "\(logs)")
        #expect(connected.contains(#" herald.user.id="bob herald.source.ip=6.6.6.6 herald.user.id=admin""#), "\(connected)")
        #expect(connected.matches(of: /herald\.source\.ip=/).count == 2, "the real field and the quoted text")
        #expect(connected.contains(" herald.source.ip=127.0.0.1"))
    }

    /// Ids are shown in logs and admin answers: invisible and line-breaking characters are refused in them.
    @Test func idsWithFormatOrSeparatorCharactersAreRefused() async throws {
        let server = try await TestServer.start()
        let socket = try await server.connect()
        for id in ["a\u{2028}b", "a\u{2029}b", "a\u{202E}b", "a\u{200B}b", "\u{FEFF}a"] {
            socket.send(String(decoding: JSON.encode(["action": "subscribe", "entityId": id]), as: UTF8.self))
            #expect(try await socket.json()["code"] == "invalid_entity_id", "\(id.unicodeScalars.map { String($0.value, radix: 16) })")
        }
        let token = try await server.token(user: "eve\u{2028}admin")
        let (status, body) = try await server.upgradeAttempt(query: "?access_token=\(token)")
        #expect(status == 401 && body?["reason"] == "token_invalid")
        try await server.stop()
    }
}

/// What a `RecordingLogHandler` saw.
final class LogRecords: Sendable {
    struct Line: Sendable, CustomStringConvertible {
        var level: Logger.Level = .info
        var message: String
        var metadata: [String: String]
        var description: String { "\(message) \(metadata)" }
    }

    private let state = Mutex<[Line]>([])
    var lines: [Line] { state.withLock { $0 } }
    func append(_ line: Line) { state.withLock { $0.append(line) } }
}

struct RecordingLogHandler: LogHandler {
    let records: LogRecords
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        records.append(.init(level: event.level, message: "\(event.message)", metadata: merged.mapValues { "\($0)" }))
    }
}
