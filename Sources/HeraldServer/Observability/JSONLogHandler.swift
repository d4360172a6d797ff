import Foundation
import HeraldCore
import HeraldTokens
public import Logging
import Synchronization

/// `--log-format json`: one JSON object per line on standard error, for log shippers.
///
/// swift-log ships only a text handler (`StreamLogHandler`, used for `--log-format text`), so
/// this small one is Herald's own. Each line holds `time` (ISO 8601, UTC), `level`, `label`,
/// `message` and every metadata key (`herald.connection.id`, `herald.close.code`…), keys sorted.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    private let label: String
    private static let output = Mutex<FileHandle>(FileHandle.standardError)

    public init(label: String) { self.label = label }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let line = Self.line(
            label: label, level: event.level, message: "\(event.message)",
            metadata: metadata.merging(event.metadata ?? [:]) { $1 }.mapValues { "\($0)" }, time: Date()
        )
        Self.output.withLock { $0.write(Data(line)) }
    }

    /// One log line: the JSON object, keys sorted, and a newline.
    static func line(label: String, level: Logger.Level, message: String, metadata: [String: String], time: Date) -> [UInt8] {
        var fields = metadata
        fields["time"] = time.formatted(.iso8601Milliseconds)
        fields["level"] = "\(level)"
        fields["label"] = label
        fields["message"] = message
        return JSON.encode(fields) + [UInt8(ascii: "\n")]
    }
}
