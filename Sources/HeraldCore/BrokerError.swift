/// What every broker throws when it could not take events: a code callers switch on, and a
/// human-readable message. The publish routes answer it with `503`.
public struct BrokerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Error codes; new ones can be added without breaking callers.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case brokerUnavailable = "broker_unavailable"
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The broker could not accept the event; nothing was published.
        public static let brokerUnavailable = Code(.brokerUnavailable)

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
