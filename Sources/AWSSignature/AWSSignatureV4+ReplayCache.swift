/// The signatures of requests already accepted, so that a captured request cannot be sent again
/// while its `X-Amz-Date` is still within the skew window. A value, with time passed in.
extension AWSSignatureV4 {
    public struct ReplayCache: Sendable {
        private struct Entry: Sendable {
            var signature: [UInt8]
            /// When the signature's `X-Amz-Date` leaves the skew window (seconds since 1970).
            var expiresAt: Int
        }

        /// The most signatures kept; at capacity the one kept longest is forgotten first.
        public let capacity: Int
        /// Kept signatures by value, with their expiry.
        private var kept: [[UInt8]: Int] = [:]
        /// Kept signatures in the order they were first used (`order[head...]`).
        private var order: [Entry] = []
        private var head = 0
        /// Signatures forgotten at capacity before they expired: replays of them are no longer caught.
        public private(set) var forgottenEarly = 0

        public var count: Int { kept.count }

        public init(capacity: Int) {
            precondition(capacity > 0, "a replay cache holds at least one signature")
            self.capacity = capacity
        }

        /// Records `signature` (whose date leaves the window at `expiresAt`) and returns true on its
        /// first use; false when it was used before and has not expired. Expired entries go first.
        public mutating func firstUse(of signature: Signature, now: Double) -> Bool {
            if let expiry = kept[signature.bytes], Double(expiry) >= now { return false }
            while head < order.count, Double(order[head].expiresAt) < now || kept.count >= capacity {
                let oldest = order[head]
                head += 1
                // A signature seen again after it expired has a newer entry further on.
                guard kept[oldest.signature] == oldest.expiresAt else { continue }
                if Double(oldest.expiresAt) >= now { forgottenEarly += 1 }
                kept[oldest.signature] = nil
            }
            if head > 1_024, head * 2 > order.count {
                order.removeFirst(head)
                head = 0
            }
            kept[signature.bytes] = signature.expiresAt
            order.append(Entry(signature: signature.bytes, expiresAt: signature.expiresAt))
            return true
        }
    }

    /// An accepted signature, as the replay cache keeps it.
    public struct Signature: Sendable, Hashable {
        /// The 32 signature bytes.
        public var bytes: [UInt8]
        /// When `X-Amz-Date` leaves the skew window (seconds since 1970): replays are refused until then.
        public var expiresAt: Int

        public init(bytes: [UInt8], expiresAt: Int) {
            self.bytes = bytes
            self.expiresAt = expiresAt
        }
    }
}
