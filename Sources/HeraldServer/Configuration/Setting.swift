/// One setting of `herald serve`. Its name is the flag (`--name`), the config-file key (`name:`)
/// and, in upper snake case, the environment variable (`HERALD_NAME`): `Setting.all` is the one
/// list from which the flags, the environment names, the config-file keys, `serve --help`, the
/// README's settings table and herald.example.yaml all come.
public struct Setting: Sendable, Equatable {
    /// How many values the setting takes.
    public enum Form: Sendable, Equatable {
        /// One value.
        case value
        /// Any number: the flag repeated, a YAML list, or comma-separated in the environment.
        case list
    }

    /// The heading the setting is listed under.
    public enum Section: String, Sendable, CaseIterable {
        case listening = "Listening"
        case tls = "TLS (both or neither; without them Herald serves plain ws:// and http://)"
        case tokens = "Client tokens (one key source is required outside --dev)"
        case publishing = "Publish and admin keys (at least one is required outside --dev)"
        case authorisation = "Subscription authorisation"
        case connections = "Connections"
        case messages = "Messages"
        case history = "History (resume with \"since\")"
        case shutdown = "Shutdown"
        case logs = "Logs (on stderr)"
    }

    public let name: String
    public let form: Form
    public let section: Section
    /// The value used when the setting is not given, as it would be written; nil when unset.
    public let defaultValue: String?
    /// What the default depends on, when it is not simply `defaultValue` (markdown).
    public let defaultNote: String?
    /// What the setting does and what a bad or exceeded value gets (markdown, one or two sentences).
    public let summary: String
    /// Example values for a setting with no default, shown commented out in the example file.
    public let examples: [String]
    /// Earlier names still accepted in the environment and the config file (never as flags).
    public let aliases: [String]

    init(
        _ name: String,
        _ section: Section,
        form: Form = .value,
        default defaultValue: String? = nil,
        note defaultNote: String? = nil,
        examples: [String] = [],
        aliases: [String] = [],
        _ summary: String
    ) {
        self.name = name
        self.form = form
        self.section = section
        self.defaultValue = defaultValue
        self.defaultNote = defaultNote
        self.summary = summary
        self.examples = examples
        self.aliases = aliases
    }

    /// `HERALD_` and the name in upper snake case.
    public static func environmentName(of name: String) -> String {
        "HERALD_" + name.uppercased().replacing("-", with: "_")
    }

    public var environmentName: String { Self.environmentName(of: name) }

    /// The setting called `name` (an alias included).
    public static func named(_ name: String) -> Setting? {
        all.first { $0.name == name || $0.aliases.contains(name) }
    }
}
