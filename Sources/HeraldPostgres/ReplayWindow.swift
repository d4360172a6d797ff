/// Which counters of one sender's notices have been heard: the newest, and each of the
/// `size` before it (a bitmap), so a notice that arrives out of order is accepted once and a
/// copy of any notice is refused.
///
/// Notices of one node reach the others in commit order, not in the order they were sealed
/// (two transactions of one node may commit the other way round), hence a window rather than
/// "newer than the last".
struct ReplayWindow: Equatable, Sendable {
    /// How far behind the newest counter a notice is still told apart.
    static let size: UInt64 = 4_096

    /// The newest counter heard.
    private(set) var newest: UInt64
    /// Bit `i` of word `i / 64`: counter `newest - i` was heard (bit 0 is `newest` itself).
    private var heard: [UInt64]

    /// A window whose first counter is `first`.
    init(first: UInt64) {
        newest = first
        heard = Array(repeating: 0, count: Int(Self.size / 64))
        heard[0] = 1
    }

    /// Records `counter`; false when it was heard before or is too far behind to tell.
    mutating func accept(_ counter: UInt64) -> Bool {
        if counter > newest {
            shift(by: counter - newest)
            newest = counter
            heard[0] |= 1
            return true
        }
        let behind = newest - counter
        guard behind < Self.size else { return false }
        let (word, bit) = (Int(behind / 64), behind % 64)
        guard heard[word] & (1 << bit) == 0 else { return false }
        heard[word] |= 1 << bit
        return true
    }

    /// Moves every mark `distance` counters further behind, dropping those that fall out.
    private mutating func shift(by distance: UInt64) {
        guard distance < Self.size else {
            for index in heard.indices { heard[index] = 0 }
            return
        }
        let (words, bits) = (Int(distance / 64), distance % 64)
        for index in heard.indices.reversed() {
            let source = index - words
            var value: UInt64 = 0
            if source >= 0 {
                value = heard[source] << bits
                if bits > 0, source >= 1 { value |= heard[source - 1] >> (64 - bits) }
            }
            heard[index] = value
        }
    }
}
