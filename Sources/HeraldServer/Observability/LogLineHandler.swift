import Foundation
import HeraldCore
public import Logging
import Synchronization

/// `serve`'s log handler: one line per event on standard error, as text (`--log-format text`) or
/// as one JSON object (`json`).
///
/// Values that come from outside (user ids, entity ids, addresses, error texts) can never forge a
/// field or a line: in text, a value that is not one plain word is quoted with `\"`, `\\` and every
/// control, format, line- or paragraph-separator character escaped (`\n`, `\u{2028}`…); in JSON,
/// U+2028 and U+2029 are escaped as well (`JSONEncoder` leaves them as they are, and some JSON
/// readers break lines at them). swift-log's own `StreamLogHandler` prints metadata unquoted, and
/// swift-log ships no JSON handler, so this small one is Herald's own.
public struct LogLineHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    private let label: String
    private let format: HeraldConfiguration.Logs.Format
    private static let output = Mutex<FileHandle>(FileHandle.standardError)

    public init(label: String, format: HeraldConfiguration.Logs.Format) {
        self.label = label
        self.format = format
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let fields = metadata.merging(event.metadata ?? [:]) { $1 }.mapValues { "\($0)" }
        let line = Self.line(format, label: label, level: event.level, message: "\(event.message)", metadata: fields, time: Date())
        Self.output.withLock { $0.write(Data(line)) }
    }

    /// One log line, newline included.
    static func line(
        _ format: HeraldConfiguration.Logs.Format,
        label: String,
        level: Logger.Level,
        message: String,
        metadata: [String: String],
        time: Date
    ) -> [UInt8] {
        let stamp = time.formatted(.iso8601Milliseconds)
        switch format {
        case .text:
            var line = "\(stamp) \(level) \(text(label)): \(text(message))"
            for key in metadata.keys.sorted() { line += " \(text(key))=\(text(metadata[key] ?? ""))" }
            return Array((line + "\n").utf8)
        case .json:
            var fields = metadata
            fields["time"] = stamp
            fields["level"] = "\(level)"
            fields["label"] = label
            fields["message"] = message
            let object = fields.keys.sorted().map { json($0) + ":" + json(fields[$0] ?? "") }.joined(separator: ",")
            return Array(("{" + object + "}\n").utf8)
        }
    }

    /// `value` as it is when it is one plain word, else quoted with everything that could end the
    /// value, the field or the line escaped.
    static func text(_ value: String) -> String {
        let isPlain = !value.isEmpty && value.unicodeScalars.allSatisfy { !isSpecial($0) && $0 != " " && $0 != "=" && $0 != "\"" }
        guard !isPlain else { return value }
        var quoted = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": quoted += "\\\""
            case "\\": quoted += "\\\\"
            case "\n": quoted += "\\n"
            case "\r": quoted += "\\r"
            case "\t": quoted += "\\t"
            case _ where isSpecial(scalar) && scalar != " ": quoted += "\\u{\(String(scalar.value, radix: 16))}"
            default: quoted.unicodeScalars.append(scalar)
            }
        }
        return quoted + "\""
    }

    /// `value` as a JSON string literal with control, format and separator characters escaped.
    static func json(_ value: String) -> String {
        var quoted = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": quoted += "\\\""
            case "\\": quoted += "\\\\"
            case "\n": quoted += "\\n"
            case "\r": quoted += "\\r"
            case "\t": quoted += "\\t"
            case _ where isSpecial(scalar) && scalar != " ":
                // JSON escapes UTF-16 code units; every special character is in the BMP but some format characters.
                for unit in String(scalar).utf16 {
                    quoted += "\\u" + String(repeating: "0", count: 4 - String(unit, radix: 16).count) + String(unit, radix: 16)
                }
            default: quoted.unicodeScalars.append(scalar)
            }
        }
        return quoted + "\""
    }

    /// Control (Cc), format (Cf), line and paragraph separators (Zl, Zp) and spaces (Zs): what a reader
    /// of a log line could mistake for the end of a value or of the line, or not see at all.
    private static func isSpecial(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator, .spaceSeparator: true
        default: false
        }
    }
}
