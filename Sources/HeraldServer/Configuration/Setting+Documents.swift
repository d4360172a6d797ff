extension Setting {
    /// The README's settings table (markdown), one row per setting.
    public static var markdownTable: String {
        var lines = ["| flag | environment | config file | default | what |", "|---|---|---|---|---|"]
        for setting in all {
            let flag = "`--\(setting.name)`" + (setting.form == .list ? " (repeatable)" : "")
            var environment = "`\(setting.environmentName)`" + (setting.form == .list ? " (comma-separated)" : "")
            var key = "`\(setting.name):`" + (setting.form == .list ? " (a list)" : "")
            if !setting.aliases.isEmpty {
                environment += ", or " + setting.aliases.map { "`\(environmentName(of: $0))`" }.joined(separator: ", ")
                key += ", or " + setting.aliases.map { "`\($0):`" }.joined(separator: ", ")
            }
            let byDefault = setting.defaultNote ?? setting.defaultValue.map { "`\($0)`" } ?? "–"
            lines.append("| \(flag) | \(environment) | \(key) | \(byDefault) | \(setting.summary) |")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// herald.example.yaml: every setting with its default, or commented out with an example.
    public static var exampleFile: String {
        var text = exampleFileHeader
        for section in Section.allCases {
            text += "\n# --- \(section.rawValue) ---\n"
            for setting in all where setting.section == section {
                text += "\n" + comment(sentence(setting.summary) + (setting.defaultNote.map { " Default: \($0)." } ?? ""))
                text += yaml(setting)
            }
        }
        return text
    }

    /// `serve --help`'s list of settings (plain text).
    public static var helpText: String {
        var lines = [
            "Every setting is a flag --NAME VALUE, an environment variable HERALD_NAME, and a key NAME: of the --config file (see herald.example.yaml). Flags win over the environment, which wins over the file. Durations: 500ms, 30s, 10m, 24h or plain seconds. Sizes: plain bytes, 32KiB, 1MiB."
        ]
        for section in Section.allCases {
            lines.append("")
            lines.append("\(section.rawValue):")
            for setting in all where setting.section == section {
                let byDefault = plain(setting.defaultNote ?? setting.defaultValue ?? "unset")
                let repeatable = setting.form == .list ? " (repeatable)" : ""
                lines.append("  --\(setting.name) <value>\(repeatable): \(plain(setting.summary)) (default: \(byDefault))")
            }
        }
        return lines.joined(separator: "\n")
    }

    private static let exampleFileHeader = """
        # herald.example.yaml: every setting of `herald serve`, with its default.
        # (Generated from the settings table: `herald settings --yaml > herald.example.yaml`.)
        #
        # Use it with `herald serve --config herald.yaml` (or HERALD_CONFIG=herald.yaml); the client
        # commands (token, publish, listen, bench) read the same file.
        # Keys are the flag names without `--`. Values are written as on the command line; a
        # repeatable setting takes a list.
        # Precedence: defaults < this file < HERALD_<NAME> environment variables < flags.
        # An unknown key or a bad value stops `serve` with a message that names the key.
        # Durations: 500ms, 30s, 10m, 24h or plain seconds. Sizes: plain bytes, 32KiB, 1MiB.
        # See docs/OPERATIONS.md.
        #
        # Outside --dev, serve needs a token key (jwt-secret, jwt-public-key, jwks-file or
        # jwks-url) and at least one publish key. Keep secrets out of this file: set them with
        # HERALD_JWT_SECRET and HERALD_PUBLISH_KEY (comma-separated), e.g. from a systemd
        # EnvironmentFile, and keep the file private (mode 0600) when the broker URL holds a password.

        """

    private static func yaml(_ setting: Setting) -> String {
        if let value = setting.defaultValue { return "\(setting.name): \(quoted(value))\n" }
        switch setting.form {
        case .value:
            return "# \(setting.name): \(quoted(setting.examples.first ?? ""))\n"
        case .list:
            return "# \(setting.name):\n" + setting.examples.map { "#   - \(quoted($0))\n" }.joined()
        }
    }

    /// YAML 1.1 readers take these words for booleans: quoted, they stay the words.
    private static func quoted(_ value: String) -> String {
        ["off", "on", "yes", "no", "true", "false"].contains(value) ? "\"\(value)\"" : value
    }

    /// A summary as a sentence: a capital first letter and a full stop.
    private static func sentence(_ text: String) -> String {
        text.prefix(1).uppercased() + text.dropFirst() + "."
    }

    /// Markdown as plain text: no backticks.
    private static func plain(_ text: String) -> String {
        text.replacing("`", with: "")
    }

    /// `# `-prefixed lines of at most 100 columns.
    private static func comment(_ text: String) -> String {
        var lines: [String] = []
        var line = "#"
        for word in plain(text).split(separator: " ") {
            if line.count + 1 + word.count > 100, line != "#" {
                lines.append(line)
                line = "#"
            }
            line += " " + word
        }
        lines.append(line)
        return lines.joined(separator: "\n") + "\n"
    }
}
