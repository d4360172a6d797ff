import Synchronization

/// Event ids: the publish result's `eventId` and the push's `id`.
///
/// Each is written as a version-4 UUID (as EventBridge's ids are), made of 64 bits chosen at
/// random when the process starts and a 64-bit counter that also starts at a random point: unique
/// across nodes and restarts, and made with one atomic increment instead of a call for 16 random
/// bytes per event. An id names an event; it grants nothing, so it need not be unguessable.
public enum EventID {
    private static let processBits = UInt64.random(in: .min ... .max)
    /// Below 2⁶², so the UUID variant bits set in its top byte never carry into it.
    private static let counter = Atomic<UInt64>(UInt64.random(in: 0..<(1 << 61)))

    /// A new id, `xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx` in lowercase hex.
    public static func next() -> String {
        let high = (processBits & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_4000  // version 4
        let low = counter.add(1, ordering: .relaxed).newValue | (0b10 << 62)  // RFC 4122 variant
        return format(high: high, low: low)
    }

    /// The UUID text of 128 bits: 32 lowercase hex digits, dashes after the 8th, 12th, 16th and 20th.
    static func format(high: UInt64, low: UInt64) -> String {
        String(unsafeUninitializedCapacity: 36) { text in
            var position = 0
            for index in 0..<32 {
                if index == 8 || index == 12 || index == 16 || index == 20 {
                    text[position] = UInt8(ascii: "-")
                    position += 1
                }
                let nibble = UInt8(truncatingIfNeeded: ((index < 16 ? high : low) >> UInt64(60 - 4 * (index % 16))) & 0xF)
                text[position] = nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
                position += 1
            }
            return position
        }
    }
}
