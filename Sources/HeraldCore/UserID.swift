/// A user identifier taken from a token or a publish request; the same rules as `EntityID`.
public struct UserID: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String

    /// Validates `rawValue`; `nil` when it is empty, over 256 UTF-8 bytes or holds a control, format or separator character.
    public init?(_ rawValue: String) {
        guard EntityID.isValid(rawValue) else { return nil }
        self.rawValue = rawValue
    }

    public var description: String { rawValue }
}
