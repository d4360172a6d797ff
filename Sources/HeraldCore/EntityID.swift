/// A validated entity identifier: 1–256 UTF-8 bytes, no Unicode control character (DEL included).
public struct EntityID: Hashable, Sendable, CustomStringConvertible {
    /// The largest identifier, in UTF-8 bytes.
    public static let maxBytes = 256

    public let rawValue: String

    /// Validates `rawValue`; `nil` when it is empty, too long or holds a control character.
    public init?(_ rawValue: String) {
        guard Self.isValid(rawValue) else { return nil }
        self.rawValue = rawValue
    }

    public var description: String { rawValue }

    static func isValid(_ value: String) -> Bool {
        let length = value.utf8.count
        guard length > 0, length <= maxBytes else { return false }
        return !value.unicodeScalars.contains { $0.properties.generalCategory == .control }
    }
}
