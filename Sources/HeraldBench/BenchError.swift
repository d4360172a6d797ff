/// The load generator's error: a code callers switch on, and a one-line human-readable message.
public struct BenchError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Error codes; new ones can be added without breaking callers.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case invalidConfiguration = "invalid_configuration"
            case resourceLimit = "resource_limit"
            case unreachable = "unreachable"
            case protocolViolation = "protocol_violation"
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// A setting is out of range or malformed.
        public static let invalidConfiguration = Code(.invalidConfiguration)
        /// The process may not open enough sockets for the run.
        public static let resourceLimit = Code(.resourceLimit)
        /// The target's address could not be resolved.
        public static let unreachable = Code(.unreachable)
        /// The server sent bytes that are not valid WebSocket framing.
        public static let protocolViolation = Code(.protocolViolation)

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
