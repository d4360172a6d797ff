public import Configuration
import Foundation
import HeraldTokens
import Yams

/// `--config herald.yaml`: the settings of OPERATIONS.md §2 in a YAML file, under the environment and the
/// flags. Keys are the flag names without `--` (`port`, `jwt-secret`, `history-ttl`…; the
/// repeatable ones as lists: `publish-key`, `allowed-origin`); values are scalars written as on
/// the command line, or lists of them (`null` or `~` leaves a setting unset). An unknown key, a nested map or an unreadable file stops
/// `serve` with a message that names the key (and its line). Each value is then checked like the
/// same flag would be.
public enum ConfigurationFile {
    /// Reads and checks `path`; the values by setting name.
    public static func load(_ path: String) throws(ConfigurationError) -> [String: ConfigContent] {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigurationError(.unreadableFile, "cannot read the config file \(path): \(error.localizedDescription)")
        }
        return try parse(text, name: path)
    }

    /// Checks the YAML text of a config file called `name` (for messages).
    public static func parse(_ text: String, name: String) throws(ConfigurationError) -> [String: ConfigContent] {
        let document: Node?
        do {
            document = try Yams.compose(yaml: text)
        } catch {
            throw ConfigurationError(.unreadableFile, "\(name) is not valid YAML: \(error)")
        }
        guard let document else { return [:] }  // an empty file sets nothing
        guard case .mapping(let mapping) = document else {
            throw ConfigurationError(.unreadableFile, "\(name) must be a map of settings, such as `port: 8080`")
        }
        var values: [String: ConfigContent] = [:]
        for (key, value) in mapping {
            let line = key.mark.map { " (line \($0.line))" } ?? ""
            guard let setting = key.string.flatMap(Setting.named)?.name else {
                throw ConfigurationError(
                    .unknownSetting,
                    "\(name)\(line): unknown setting `\(key.string ?? "?")`; the settings are the flag names without --, see docs/OPERATIONS.md"
                )
            }
            switch value {
            case .scalar(let scalar) where scalar.style == .plain && ["", "~", "null", "Null", "NULL"].contains(scalar.string):
                continue  // YAML's null leaves the setting unset
            case .scalar(let scalar):
                values[setting] = .string(scalar.string)
            case .sequence(let sequence):
                let items = sequence.compactMap(\.scalar?.string)
                guard items.count == sequence.count else {
                    throw ConfigurationError(.invalidValue, "\(name)\(line): `\(setting)` must be a value or a list of values")
                }
                values[setting] = .stringArray(items)
            case .mapping, .alias:
                throw ConfigurationError(.invalidValue, "\(name)\(line): `\(setting)` must be a value or a list of values")
            }
        }
        return values
    }
}
