/// This module's error: a key or key set tokens cannot be verified with, or a test token that
/// cannot be made. The message says what is wrong with the value; the configuration layer, which
/// alone knows which setting held it, names the setting.
public struct TokenError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Error codes; new ones can be added without breaking callers.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case unreadableKey = "unreadable_key"
            case unusableKey = "unusable_key"
            case keySetUnavailable = "key_set_unavailable"
            case invalidTestToken = "invalid_test_token"
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// A PEM file that cannot be read.
        public static let unreadableKey = Code(.unreadableKey)
        /// A key that none of the configured algorithms can use, or a secret too short for them.
        public static let unusableKey = Code(.unusableKey)
        /// A JWKS document that cannot be fetched, read or parsed.
        public static let keySetUnavailable = Code(.keySetUnavailable)
        /// A test token's lifetime or dates out of range.
        public static let invalidTestToken = Code(.invalidTestToken)

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
