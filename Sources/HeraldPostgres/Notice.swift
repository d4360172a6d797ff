import HeraldCore

/// What one node tells the others on the channel `herald_events`: an event to deliver, or a
/// question about connections and its answer. Notices travel sealed (`NoticeSeal`), several to
/// one `NOTIFY` when they fit.
///
/// A body too large for a notice is stored and named instead: an entity's push is in
/// `herald_events` (its notice names the entity, `seq` and epoch), anything else in
/// `herald_payloads` (its notice names the row).
///
/// The bytes of each notice: its kind (one byte), then its fields, each a length (LEB128) and
/// that many UTF-8 bytes, or a number (LEB128).
///
/// | kind | fields |
/// |---|---|
/// | 1 / 2 | entity, seq, stream epoch, push / (the push is in `herald_events`) |
/// | 3 / 4 | user, push / payload id |
/// | 5 / 6 | request id, asking node, question JSON / payload id |
/// | 7 / 8 | request id, asking node, answer JSON / payload id |
enum Notice: Equatable, Sendable {
    /// An entity's event in the stream run `epoch`, with its push (the exact bytes every node
    /// sends) or nil when stored.
    case entityEvent(EntityID, seq: Int, epoch: String, push: String?)
    /// A user notification's push.
    case userNotification(UserID, Body)
    /// A node's question to the others.
    case question(request: String, from: String, Body)
    /// An answer to the node that asked.
    case answer(request: String, to: String, Body)

    /// A push, question or answer, or the `herald_payloads` row that holds it.
    enum Body: Equatable, Sendable {
        case inline(String)
        case stored(Int)
    }

    /// The channel every node listens on.
    static let channel = "herald_events"
    /// The longest stream epoch a notice carries (the database makes them: 32 hex digits at most).
    static let maximumEpochBytes = 64

    /// Whether this notice fits in one sealed notice on its own (else its body must be stored).
    var fitsOneNotice: Bool { encodedCount <= NoticeSeal.maximumContentBytes }

    /// How many bytes `encode` writes.
    var encodedCount: Int {
        var bytes: [UInt8] = []
        encode(into: &bytes)
        return bytes.count
    }

    /// Appends this notice's bytes.
    func encode(into bytes: inout [UInt8]) {
        func field(_ text: String) {
            number(text.utf8.count)
            bytes.append(contentsOf: text.utf8)
        }
        func number(_ value: Int) {
            var rest = UInt64(value)
            repeat {
                let low = UInt8(rest & 0x7f)
                rest >>= 7
                bytes.append(rest == 0 ? low : low | 0x80)
            } while rest != 0
        }
        func body(_ body: Body) {
            switch body {
            case .inline(let text): field(text)
            case .stored(let id): number(id)
            }
        }
        switch self {
        case .entityEvent(let entity, let seq, let epoch, let push):
            bytes.append(push == nil ? 2 : 1)
            field(entity.rawValue)
            number(seq)
            field(epoch)
            if let push { field(push) }
        case .userNotification(let user, let push):
            bytes.append(push.isStored ? 4 : 3)
            field(user.rawValue)
            body(push)
        case .question(let request, let node, let question):
            bytes.append(question.isStored ? 6 : 5)
            field(request)
            field(node)
            body(question)
        case .answer(let request, let node, let answer):
            bytes.append(answer.isStored ? 8 : 7)
            field(request)
            field(node)
            body(answer)
        }
    }

    /// Reads every notice of an opened sealed notice; nil when any of it is not a notice (or there is none).
    static func decode(_ bytes: [UInt8]) -> [Notice]? {
        guard !bytes.isEmpty else { return nil }
        var reader = Reader(bytes: bytes)
        var notices: [Notice] = []
        while !reader.isAtEnd {
            guard let notice = reader.notice() else { return nil }
            notices.append(notice)
        }
        return notices
    }

    /// Packs `notices`, in order, into as few sealed notices' contents as they fit in; each must
    /// fit one on its own (`fitsOneNotice`).
    static func pack(_ notices: [Notice]) -> [[UInt8]] {
        var packed: [[UInt8]] = []
        var current: [UInt8] = []
        for notice in notices {
            var bytes: [UInt8] = []
            notice.encode(into: &bytes)
            if !current.isEmpty, current.count + bytes.count > NoticeSeal.maximumContentBytes {
                packed.append(current)
                current = []
            }
            current += bytes
        }
        if !current.isEmpty { packed.append(current) }
        return packed
    }

    private struct Reader {
        let bytes: [UInt8]
        var index = 0

        var isAtEnd: Bool { index >= bytes.count }

        mutating func notice() -> Notice? {
            guard !isAtEnd else { return nil }
            let kind = bytes[index]
            index += 1
            let stored = kind.isMultiple(of: 2)
            func body() -> Body? { stored ? number().map(Body.stored) : field().map(Body.inline) }
            switch kind {
            case 1, 2:
                guard let entity = field().flatMap(EntityID.init), let seq = number(), seq > 0, let epoch = field(), !epoch.isEmpty,
                    epoch.utf8.count <= Notice.maximumEpochBytes
                else { return nil }
                if stored { return .entityEvent(entity, seq: seq, epoch: epoch, push: nil) }
                return field().map { .entityEvent(entity, seq: seq, epoch: epoch, push: $0) }
            case 3, 4:
                guard let user = field().flatMap(UserID.init), let push = body() else { return nil }
                return .userNotification(user, push)
            case 5...8:
                guard let request = field(), !request.isEmpty, let node = field(), !node.isEmpty, let text = body() else { return nil }
                return kind <= 6 ? .question(request: request, from: node, text) : .answer(request: request, to: node, text)
            default:
                return nil
            }
        }

        mutating func number() -> Int? {
            var value: UInt64 = 0
            for shift in stride(from: UInt64(0), to: 63, by: 7) {
                guard !isAtEnd else { return nil }
                let byte = bytes[index]
                index += 1
                value |= UInt64(byte & 0x7f) << shift
                if byte & 0x80 == 0 { return value <= UInt64(Int.max) ? Int(value) : nil }
            }
            return nil
        }

        mutating func field() -> String? {
            guard let count = number(), count <= bytes.count - index else { return nil }
            defer { index += count }
            return String(validating: bytes[index..<(index + count)], as: UTF8.self)
        }
    }
}

extension Notice.Body {
    var isStored: Bool {
        if case .stored = self { return true }
        return false
    }
}
