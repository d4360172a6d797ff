/// A validated entity identifier: 1–256 UTF-8 bytes, no Unicode control character (DEL included),
/// no format character (Cf: bidirectional overrides, zero-width characters…) and no line or
/// paragraph separator (U+2028, U+2029): ids are shown in logs and admin answers, where an
/// invisible or line-breaking character could make one id pass for another.
public struct EntityID: Hashable, Sendable, CustomStringConvertible {
    /// The largest identifier, in UTF-8 bytes.
    public static let maxBytes = 256
    /// The rule an id must follow, as error messages state it.
    public static let rule = "1 to \(maxBytes) UTF-8 bytes with no control, format or line-separator characters"

    public let rawValue: String

    /// Validates `rawValue`; `nil` when it is empty, too long or holds a control, format or separator character.
    public init?(_ rawValue: String) {
        guard Self.isValid(rawValue) else { return nil }
        self.rawValue = rawValue
    }

    public var description: String { rawValue }

    static func isValid(_ value: String) -> Bool {
        let length = value.utf8.count
        guard length > 0, length <= maxBytes else { return false }
        return !value.unicodeScalars.contains {
            switch $0.properties.generalCategory {
            case .control, .format, .lineSeparator, .paragraphSeparator: true
            default: false
            }
        }
    }
}
