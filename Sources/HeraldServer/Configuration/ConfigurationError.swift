/// A setting that is missing, malformed or cannot be used: the configuration layer's error, and
/// the only place settings are spelled as the operator writes them — the flag (`--jwt-secret`),
/// the environment variable (`HERALD_JWT_SECRET`) and the config file's key (`jwt-secret`).
public struct ConfigurationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Error codes; new ones can be added without breaking callers.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case invalidValue = "invalid_value"
            case missingSetting = "missing_setting"
            case unknownSetting = "unknown_setting"
            case unusableValue = "unusable_value"
            case unreadableFile = "unreadable_file"
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// A value that is not of the setting's form.
        public static let invalidValue = Code(.invalidValue)
        /// A setting the server cannot start without.
        public static let missingSetting = Code(.missingSetting)
        /// A flag or config-file key that names no setting.
        public static let unknownSetting = Code(.unknownSetting)
        /// A well-formed value the server could not use at start (a key, a JWKS, a database).
        public static let unusableValue = Code(.unusableValue)
        /// A config file that cannot be read or parsed.
        public static let unreadableFile = Code(.unreadableFile)

        public var description: String { base.rawValue }
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    /// A value of setting `name` that is not of its form: what was `expected`.
    public static func invalid(_ name: String, expected: String) -> Self {
        Self(.invalidValue, "invalid value for \(spelled(name)): expected \(expected)")
    }

    /// A value of setting `name` that is not of its form: what is wrong with it (often the error of
    /// the module that read it).
    public static func invalid(_ name: String, because problem: some CustomStringConvertible) -> Self {
        Self(.invalidValue, "invalid value for \(spelled(name)): \(problem)")
    }

    /// A value of setting `name` the server could not use: `problem` says why (often the error of the module that tried).
    public static func unusable(_ name: String, _ problem: some CustomStringConvertible) -> Self {
        Self(.unusableValue, "--\(name): \(problem)")
    }

    /// The setting's three spellings: `--name (HERALD_NAME, or `name` in the config file)`.
    static func spelled(_ name: String) -> String {
        "--\(name) (\(Setting.environmentName(of: name)), or `\(name)` in the config file)"
    }
}
