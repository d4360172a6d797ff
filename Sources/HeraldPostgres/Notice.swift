import HeraldCore

/// What one node tells the others through `NOTIFY herald_events`: an event to deliver, or a
/// question about connections and its answer.
///
/// The payload is text, fields separated by a line feed (ids cannot hold one; the last field
/// may). A body too large for PostgreSQL's 8,000-byte notification limit is stored and named
/// instead (the capital letter's form): an entity's push is in `herald_events`, anything else
/// in `herald_payloads`, whose row id then comes last.
///
/// | kind | fields |
/// |---|---|
/// | `e` / `E` | seq, stream epoch, entity, push / (the push is in `herald_events`) |
/// | `u` / `U` | user, push / payload id |
/// | `q` / `Q` | request id, asking node, question JSON / payload id |
/// | `a` / `A` | request id, asking node, answer JSON / payload id |
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
    /// The longest payload PostgreSQL carries (it refuses 8,000 bytes and more).
    static let maximumBytes = 7_999
    /// The longest stream epoch a notice carries (the database makes them: 32 hex digits at most).
    static let maximumEpochBytes = 64

    /// The SQL expression of an entity event's notice, which the publish statement builds around
    /// the `seq` it hands out: over rows with `seq`, `epoch`, `entity_id` and `push`, the push
    /// inline when the payload stays within `inlineLimit` bytes of push.
    static func entityEventSQL(inlineLimit: Int) -> String {
        """
        CASE WHEN octet_length(push) <= \(inlineLimit)
            THEN 'e' || chr(10) || seq || chr(10) || epoch || chr(10) || entity_id || chr(10) || push
            ELSE 'E' || chr(10) || seq || chr(10) || epoch || chr(10) || entity_id END
        """
    }

    /// The text form (what `pg_notify` sends); the database builds entity events' itself.
    var payload: String {
        switch self {
        case .entityEvent(let entity, let seq, let epoch, let push?): "e\n\(seq)\n\(epoch)\n\(entity)\n\(push)"
        case .entityEvent(let entity, let seq, let epoch, nil): "E\n\(seq)\n\(epoch)\n\(entity)"
        case .userNotification(_, let body), .question(_, _, let body), .answer(_, _, let body):
            switch body {
            case .inline(let text): "\(Character(kind.lowercased()))\n\(header)\(text)"
            case .stored(let id): "\(kind)\n\(header)\(id)"
            }
        }
    }

    /// The stored form's text before its payload id (what the database joins the id to).
    var storedPrefix: String { "\(kind)\n\(header)" }

    /// The upper-case kind letter.
    private var kind: Character {
        switch self {
        case .entityEvent: "E"
        case .userNotification: "U"
        case .question: "Q"
        case .answer: "A"
        }
    }

    /// The fields before the body, each ended by a line feed.
    private var header: String {
        switch self {
        case .entityEvent(let entity, let seq, let epoch, _): "\(seq)\n\(epoch)\n\(entity)\n"
        case .userNotification(let user, _): "\(user)\n"
        case .question(let request, let node, _), .answer(let request, let node, _): "\(request)\n\(node)\n"
        }
    }

    /// Reads a payload; nil for anything that is not a notice.
    init?(payload: String) {
        guard let kind = payload.first, payload.dropFirst().first == "\n" else { return nil }
        // The last field may hold line feeds: split only as often as there are fields before it.
        let fieldCount =
            switch kind {
            case "e": 4
            case "u", "U": 2
            default: 3
            }
        let fields = payload.dropFirst(2).split(separator: "\n", maxSplits: fieldCount - 1, omittingEmptySubsequences: false)
            .map(String.init)
        guard fields.count == fieldCount else { return nil }
        func body(_ text: String) -> Body? {
            kind.isLowercase ? .inline(text) : Int(text).map(Body.stored)
        }
        switch kind {
        case "e", "E":
            guard let seq = Int(fields[0]), seq > 0, !fields[1].isEmpty, fields[1].utf8.count <= Self.maximumEpochBytes,
                let entity = EntityID(fields[2])
            else { return nil }
            self = .entityEvent(entity, seq: seq, epoch: fields[1], push: kind == "e" ? fields[3] : nil)
        case "u", "U":
            guard let user = UserID(fields[0]), let body = body(fields[1]) else { return nil }
            self = .userNotification(user, body)
        case "q", "Q", "a", "A":
            guard !fields[0].isEmpty, !fields[1].isEmpty, let body = body(fields[2]) else { return nil }
            self = kind.lowercased() == "q" ? .question(request: fields[0], from: fields[1], body) : .answer(request: fields[0], to: fields[1], body)
        default:
            return nil
        }
    }
}
