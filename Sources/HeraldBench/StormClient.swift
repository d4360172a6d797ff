/// How many of one loop's storm clients lost their node, and finished (resumed or gave up):
/// what the storm waits on, without walking every client.
final class StormCounters {
    var lost = 0
    var finished = 0
}

/// One client of the reconnect storm across its two connections, confined to its event loop:
/// where its entity's stream stood (the last `seq` it received and the `epoch` of its ack), when
/// it lost its node and how, and how its resume went — every event checked against the `seq`
/// before it, so a duplicate or a skipped event is seen on the client it happened to.
final class StormClient {
    let index: Int
    let entity: Int
    private let counters: StormCounters

    /// Subscribed on its first connection and not lost yet.
    private(set) var isLive = false

    /// The last `seq` received (live on the first connection, then replayed or live on the second).
    private(set) var lastSeq: Int?
    /// The `epoch` of the last ack.
    private(set) var epoch: String?

    /// When (uptime ns) and how (close code; 1006 without a close frame) the first connection ended.
    private(set) var lostAt: UInt64?
    private(set) var lossCode: Int?

    /// The reconnect: when it was launched, the `since` it sent, and the `seq` it must reach
    /// (its entity's last event; nil: nothing to catch up, as for Nchan).
    private(set) var reconnectedAt: UInt64?
    private(set) var since: Int?
    private(set) var targetSeq: Int?
    /// TCP connect → ack (Herald) or 101 (Nchan), µs.
    private(set) var handshakeMicros: UInt64?
    /// When the ack (Herald) or the 101 (Nchan) arrived.
    private(set) var ackedAt: UInt64?
    /// The ack's `recovered` (nil for Nchan).
    private(set) var recovered: Bool?
    /// When every missed event had arrived after the ack (or the ack itself, with nothing missed).
    private(set) var resumedAt: UInt64?
    /// Events received on the second connection, those already received (`seq` not above the
    /// last), and `seq`s skipped over.
    private(set) var caughtUp = 0
    private(set) var duplicates = 0
    private(set) var skipped = 0
    /// Why the reconnect did not resume.
    private(set) var failure: String?

    init(index: Int, entity: Int, counters: StormCounters) {
        self.index = index
        self.entity = entity
        self.counters = counters
    }

    var isLost: Bool { lostAt != nil }
    /// Resumed or given up on.
    var isFinished: Bool { resumedAt != nil || failure != nil }

    // MARK: - First connection

    /// Herald's ack (with its `epoch`) or Nchan's 101 on the first connection.
    func acknowledged(epoch: String?) {
        self.epoch = epoch
        isLive = true
    }

    /// A push on the first connection.
    func receivedLive(seq: Int) {
        lastSeq = seq
    }

    func lost(code: Int, now: UInt64) {
        guard isLive, lostAt == nil else { return }
        isLive = false
        lostAt = now
        lossCode = code
        counters.lost += 1
    }

    // MARK: - Second connection

    /// The reconnect is launched; `target` is the `seq` it must reach (nil: nothing to catch up).
    func reconnecting(target: Int?, now: UInt64) {
        reconnectedAt = now
        since = lastSeq
        targetSeq = target
    }

    /// Herald's ack (`recovered`, `epoch`) or Nchan's 101 (both nil).
    func resumeAcknowledged(recovered: Bool?, epoch: String?, handshakeMicros: UInt64, now: UInt64) {
        self.recovered = recovered
        ackedAt = now
        if let epoch { self.epoch = epoch }
        self.handshakeMicros = handshakeMicros
        completeIfCaughtUp(now: now)
    }

    /// A push on the second connection, replayed or live.
    func receivedAfterReconnect(seq: Int, now: UInt64) {
        if let last = lastSeq {
            guard seq > last else {
                duplicates += 1
                return
            }
            skipped += seq - last - 1
        }
        lastSeq = seq
        caughtUp += 1
        completeIfCaughtUp(now: now)
    }

    func failed(_ reason: String) {
        guard !isFinished else { return }
        failure = reason
        counters.finished += 1
    }

    /// Resumed once the ack is in and its entity's last event; an ack saying `recovered:false`
    /// ends the wait at once (what it did not replay will not come).
    private func completeIfCaughtUp(now: UInt64) {
        guard !isFinished, handshakeMicros != nil else { return }
        if recovered != false, let targetSeq, (lastSeq ?? 0) < targetSeq { return }
        resumedAt = now
        counters.finished += 1
    }

    /// Events the reconnect should bring: its entity's last `seq` past the one it had.
    var expectedCatchUp: Int { max(0, (targetSeq ?? 0) - (since ?? 0)) }
    /// Of those, still not received.
    var missing: Int { max(0, (targetSeq ?? 0) - (lastSeq ?? 0)) }

    // MARK: - Reading Herald's frames

    private static let seqKey: [UInt8] = Array(#""seq":"#.utf8)
    private static let epochKey: [UInt8] = Array(#""epoch":""#.utf8)
    private static let recoveredTrue: [UInt8] = Array(#""recovered":true"#.utf8)
    private static let recoveredFalse: [UInt8] = Array(#""recovered":false"#.utf8)

    /// The `seq` of a push (its first `"seq":` member), or nil.
    static func seq(in bytes: UnsafeRawBufferPointer) -> Int? {
        guard var position = SubscriberHandler.firstIndex(of: seqKey, in: bytes) else { return nil }
        position += seqKey.count
        var value = 0
        let start = position
        while position < bytes.count, position - start < 18, bytes[position] >= UInt8(ascii: "0"), bytes[position] <= UInt8(ascii: "9") {
            value = value * 10 + Int(bytes[position] - UInt8(ascii: "0"))
            position += 1
        }
        return position > start ? value : nil
    }

    /// The `recovered` and `epoch` of a `subscribed` ack.
    static func ack(in bytes: UnsafeRawBufferPointer) -> (recovered: Bool?, epoch: String?) {
        let recovered: Bool? =
            SubscriberHandler.firstIndex(of: recoveredTrue, in: bytes) != nil
            ? true : SubscriberHandler.firstIndex(of: recoveredFalse, in: bytes) != nil ? false : nil
        var epoch: String?
        if let start = SubscriberHandler.firstIndex(of: epochKey, in: bytes).map({ $0 + epochKey.count }) {
            var end = start
            while end < bytes.count, bytes[end] != UInt8(ascii: "\"") { end += 1 }
            if end < bytes.count { epoch = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self) }
        }
        return (recovered, epoch)
    }
}
