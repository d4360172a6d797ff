/// This module's error: a database URL that cannot be used, a database Herald cannot start on, or
/// an answer it did not expect. The message says what is wrong; the configuration layer names
/// the setting (publishing itself fails with the core's `BrokerError`, as every broker's does).
public struct PostgresBrokerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Error codes; new ones can be added without breaking callers.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case invalidURL = "invalid_url"
            case databaseUnusable = "database_unusable"
            case unexpectedAnswer = "unexpected_answer"
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The URL is not a postgres:// URL Herald can connect with.
        public static let invalidURL = Code(.invalidURL)
        /// The database could not be reached, migrated or read at start.
        public static let databaseUnusable = Code(.databaseUnusable)
        /// The database answered, but not as Herald expected (or not in time).
        public static let unexpectedAnswer = Code(.unexpectedAnswer)

        public var description: String { base.rawValue }
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
