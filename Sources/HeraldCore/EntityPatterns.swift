/// The entities a token lets its holder subscribe to (PROTOCOL.md §2, subscription authorisation):
/// exact ids, or glob patterns in which `*` stands for any run of characters, none included
/// (`order-*` allows `order-7` and `order-`, not `orders`). Nothing else is special.
public struct EntityPatterns: Equatable, Sendable {
    /// The ids and patterns, as given (a shape that keeps them between messages stores these).
    public let patterns: [String]
    private let exact: Set<String>
    private let globs: [[UInt8]]

    /// - Parameter patterns: ids and patterns; an empty list allows nothing.
    public init(_ patterns: [String]) {
        self.patterns = patterns
        exact = Set(patterns.filter { !$0.contains("*") })
        globs = patterns.filter { $0.contains("*") }.map { Array($0.utf8) }
    }

    /// True when some pattern allows `entity`.
    public func allows(_ entity: EntityID) -> Bool {
        if exact.contains(entity.rawValue) { return true }
        let text = Array(entity.rawValue.utf8)
        return globs.contains { Self.matches($0, text) }
    }

    /// Wildcard matching in linear space: on a mismatch, the last `*` takes one more byte.
    static func matches(_ pattern: [UInt8], _ text: [UInt8]) -> Bool {
        let star = UInt8(ascii: "*")
        var (p, t) = (0, 0)
        var lastStar: (pattern: Int, text: Int)?
        while t < text.count {
            if p < pattern.count, pattern[p] == star {
                lastStar = (p, t)
                p += 1
            } else if p < pattern.count, pattern[p] == text[t] {
                p += 1
                t += 1
            } else if let star = lastStar {
                p = star.pattern + 1
                t = star.text + 1
                lastStar = (star.pattern, star.text + 1)
            } else {
                return false
            }
        }
        while p < pattern.count, pattern[p] == star { p += 1 }
        return p == pattern.count
    }
}
