import Synchronization

/// A connection's identifier, unique within this process.
public struct ConnectionID: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt64

    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Parses the `description` form (lowercase base 36); nil for anything else.
    public init?(_ text: some StringProtocol) {
        guard let value = UInt64(text, radix: 36), String(value, radix: 36) == text else { return nil }
        rawValue = value
    }

    /// Starts at a random point, so ids are not reused by a restarted process or shared by two
    /// nodes (a backend holding an old id reaches no one, as with API Gateway), yet stay cheap to make.
    private static let counter = Atomic<UInt64>(UInt64.random(in: 1..<(1 << 62)))

    /// The next unused identifier.
    public static func next() -> ConnectionID {
        ConnectionID(rawValue: counter.add(1, ordering: .relaxed).newValue)
    }

    public var description: String { String(rawValue, radix: 36) }
}
