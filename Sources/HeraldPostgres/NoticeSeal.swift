import Crypto
import Foundation
import HeraldCore
import Synchronization

/// What goes on the cluster's channel: every notice sealed (AES-256-GCM: encrypted and
/// authenticated) under a key only holders of the cluster secret can derive, so a database role
/// that can `LISTEN` and `NOTIFY` — any role that may connect — can neither read a notice nor
/// make one the nodes believe, and a copy of one is refused.
///
/// A sealed notice is the base64 text of
///
/// | bytes | what |
/// |---|---|
/// | 1 | version, `1` |
/// | 16 | the sender's run id: random at each start of a node |
/// | 8 | the sender's counter (big-endian): 1, 2, 3… in this run |
/// | … | the ciphertext of: the time it was sealed (ms since 1970, 8 bytes big-endian), then the notices (`Notice.encode`) |
/// | 16 | the GCM tag |
///
/// The key is HKDF-SHA256 of the secret with the run id as salt, so each run has its own key,
/// and the nonce is the counter: a nonce never repeats under a key however many notices a node
/// seals. The first 25 bytes are authenticated with the ciphertext.
enum NoticeSeal {
    static let version: UInt8 = 1
    static let runIDBytes = 16
    static let headerBytes = 1 + runIDBytes + 8
    static let tagBytes = 16
    static let timeBytes = 8
    /// The longest text PostgreSQL's `NOTIFY` carries (it refuses 8,000 bytes and more).
    static let maximumTextBytes = 7_999
    /// The most bytes of notices one sealed notice holds, so that its base64 text stays within `maximumTextBytes`.
    static let maximumContentBytes = maximumTextBytes / 4 * 3 - headerBytes - tagBytes - timeBytes

    /// The key of the run `runID` under `secret`.
    static func key(of runID: some DataProtocol, under secret: ClusterSecret) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: secret.bytes),
            salt: runID,
            info: Array("herald cluster notices v1".utf8),
            outputByteCount: 32
        )
    }

    /// A time as whole milliseconds since 1970 (rounded down), as sealed.
    static func milliseconds(_ time: Date) -> UInt64 {
        UInt64(max(0, (time.timeIntervalSince1970 * 1000).rounded(.down)))
    }

    static func nonce(_ counter: UInt64) -> AES.GCM.Nonce {
        var bytes = [UInt8](repeating: 0, count: 12)
        for index in 0..<8 { bytes[4 + index] = UInt8(truncatingIfNeeded: counter >> (56 - 8 * UInt64(index))) }
        return try! AES.GCM.Nonce(data: bytes)  // 12 bytes: always a valid nonce
    }
}

/// Seals this node's notices: its run id, its key, and its counter.
final class NoticeSealer: Sendable {
    let runID: [UInt8]
    private let key: SymmetricKey
    private let counter = Atomic<UInt64>(0)

    init(secret: ClusterSecret, runID: [UInt8] = (0..<NoticeSeal.runIDBytes).map { _ in UInt8.random(in: 0...255) }) {
        self.runID = runID
        key = NoticeSeal.key(of: runID, under: secret)
    }

    /// The text to `NOTIFY` for `content` (at most `NoticeSeal.maximumContentBytes`), sealed at `time`.
    func seal(_ content: [UInt8], at time: Date) -> String {
        precondition(content.count <= NoticeSeal.maximumContentBytes, "a notice too large for NOTIFY")
        let counter = counter.add(1, ordering: .relaxed).newValue
        var header = [NoticeSeal.version] + runID
        header.append(contentsOf: bigEndian(counter))
        let plaintext = bigEndian(NoticeSeal.milliseconds(time)) + content
        // Cannot fail with a 12-byte nonce.
        let box = try! AES.GCM.seal(plaintext, using: key, nonce: NoticeSeal.nonce(counter), authenticating: header)
        return Data(header + box.ciphertext + box.tag).base64EncodedString()
    }

    private func bigEndian(_ value: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * UInt64($0))) }
    }
}

/// Opens the notices heard on the channel, refusing what no holder of the secret sealed, what
/// is not fresh, and anything heard before. A value-type state machine: the clock is passed in.
///
/// A notice is fresh when it was sealed within `maximumAge` of this node's clock (either way)
/// and not before this node started: a node that just started has heard nothing of a sender
/// yet, so a copy of a notice sealed before it listened could not be told from the original
/// (what it misses so is what it would have missed by starting later: an event is read from
/// the database when the next one comes). Each sender (run) has a
/// `ReplayWindow`, kept until its newest notice is no longer fresh — from then on every copy of
/// its notices is stale anyway. Only a notice that opened makes an entry, so the entries are
/// bounded by the runs of genuine nodes.
struct NoticeOpener: Sendable {
    static let maximumAge: Duration = .seconds(30)

    /// The secrets a notice may be sealed with: the current one, then the previous one.
    let secrets: [ClusterSecret]
    /// When this node started (its clock).
    let startedAt: Date

    private struct Sender {
        var key: SymmetricKey
        var window: ReplayWindow
        /// Until when a copy of its notices could still be fresh.
        var keptUntil: Date
    }

    private var senders: [[UInt8]: Sender] = [:]
    private var lastSweep: Date

    init(secrets: [ClusterSecret], startedAt: Date) {
        self.secrets = secrets
        self.startedAt = startedAt
        lastSweep = startedAt
    }

    /// How many senders are remembered (for tests).
    var senderCount: Int { senders.count }

    /// The notices' bytes (`Notice.decode` reads them), or why the text was refused.
    mutating func open(_ text: String, now: Date) -> Result<[UInt8], RejectedNotice> {
        sweep(now: now)
        guard text.utf8.count <= NoticeSeal.maximumTextBytes, let data = Data(base64Encoded: text),
            data.count >= NoticeSeal.headerBytes + NoticeSeal.timeBytes + NoticeSeal.tagBytes, data.first == NoticeSeal.version
        else { return .failure(.malformed) }
        let bytes = [UInt8](data)
        let header = bytes[0..<NoticeSeal.headerBytes]
        let runID = Array(bytes[1..<(1 + NoticeSeal.runIDBytes)])
        let counter = bytes[(1 + NoticeSeal.runIDBytes)..<NoticeSeal.headerBytes].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let ciphertext = bytes[NoticeSeal.headerBytes..<(bytes.count - NoticeSeal.tagBytes)]
        let tag = bytes[(bytes.count - NoticeSeal.tagBytes)...]
        guard let box = try? AES.GCM.SealedBox(nonce: NoticeSeal.nonce(counter), ciphertext: ciphertext, tag: tag) else {
            return .failure(.malformed)
        }
        let known = senders[runID]
        let keys = known.map { [$0.key] } ?? secrets.map { NoticeSeal.key(of: runID, under: $0) }
        guard
            let (key, plaintext) = keys.lazy.compactMap({ key in
                (try? AES.GCM.open(box, using: key, authenticating: header)).map { (key, [UInt8]($0)) }
            }).first
        else { return .failure(.unauthenticated) }
        let milliseconds = plaintext.prefix(NoticeSeal.timeBytes).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let sealedAt = Date(timeIntervalSince1970: Double(milliseconds) / 1000)
        let age = Self.maximumAge.inSeconds
        guard milliseconds >= NoticeSeal.milliseconds(startedAt), sealedAt >= now - age, sealedAt <= now + age else {
            return .failure(.stale)
        }
        let keptUntil = max(now, sealedAt) + age
        if var sender = known {
            guard sender.window.accept(counter) else { return .failure(.replayed) }
            sender.keptUntil = max(sender.keptUntil, keptUntil)
            senders[runID] = sender
        } else {
            senders[runID] = Sender(key: key, window: ReplayWindow(first: counter), keptUntil: keptUntil)
        }
        return .success(Array(plaintext.dropFirst(NoticeSeal.timeBytes)))
    }

    /// Forgets the senders none of whose notices could still be fresh (at most once a second).
    private mutating func sweep(now: Date) {
        guard now.timeIntervalSince(lastSweep) >= 1 else { return }
        lastSweep = now
        senders = senders.filter { $0.value.keptUntil > now }
    }
}
