import Foundation
import HeraldCore
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
        var fields = metadata.merging(event.metadata ?? [:]) { $1 }.mapValues { "\($0)" }
        fields["time"] = Date().formatted(.iso8601)
        fields["level"] = "\(event.level)"
        fields["label"] = label
        fields["message"] = "\(event.message)"
        let line = JSON.encode(fields) + [UInt8(ascii: "\n")]
        Self.output.withLock { $0.write(Data(line)) }
    }
}
