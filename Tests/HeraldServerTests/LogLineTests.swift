import Foundation
import HeraldClient
import HeraldCore
@testable import HeraldServer
import Logging
import Synchronization
import Testing

/// The connect and disconnect lines of SPEC §6: connection id, user id, source IP, duration and
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
        let line = JSONLogHandler.line(
            label: "herald", level: .info, message: "Disconnected", metadata: ["herald.close.code": "4003"], time: Date(timeIntervalSince1970: 0)
        )
        #expect(
            String(decoding: line, as: UTF8.self)
                == #"{"herald.close.code":"4003","label":"herald","level":"info","message":"Disconnected","time":"1970-01-01T00:00:00.000Z"}"# + "\n"
        )
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
