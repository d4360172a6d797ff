/// This module's error: Herald could not be reached, or refused the WebSocket upgrade.
public struct ClientError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Error codes; new ones can be added without breaking callers.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case unreachable
            case upgradeRefused = "upgrade_refused"
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The connection was refused, timed out or broke before an answer.
        public static let unreachable = Code(.unreachable)
        /// The server answered the upgrade with a refusal (the message carries its `reason`).
        public static let upgradeRefused = Code(.upgradeRefused)

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
