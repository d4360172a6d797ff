import HeraldCore

/// What a publishing node tells every node through `NOTIFY herald_events`: one event to deliver.
///
/// The payload is text, fields separated by a line feed (ids cannot hold one; the push, last,
/// may): `e` seq entity push, `E` seq entity (the push is in `herald_events`), `u` user push,
/// `U` payload-id user (the push is in `herald_payloads`). A push too large for PostgreSQL's
/// 8,000-byte notification limit goes by reference.
enum Notice: Equatable, Sendable {
    /// An entity's event, with its push (the exact bytes every node sends) or nil when stored.
    case entityEvent(EntityID, seq: Int, push: String?)
    /// A user notification with its push, or the `herald_payloads` row that holds it.
    case userNotification(UserID, push: String?, storedAs: Int?)

    /// The channel every node listens on.
    static let channel = "herald_events"
    /// The longest payload PostgreSQL carries (it refuses 8,000 bytes and more).
    static let maximumBytes = 7_999

    /// The text form (what `pg_notify` sends); the database builds entity events' itself.
    var payload: String {
        switch self {
        case .entityEvent(let entity, let seq, let push?): "e\n\(seq)\n\(entity)\n\(push)"
        case .entityEvent(let entity, let seq, nil): "E\n\(seq)\n\(entity)"
        case .userNotification(let user, let push?, _): "u\n\(user)\n\(push)"
        case .userNotification(let user, nil, let stored): "U\n\(stored ?? 0)\n\(user)"
        }
    }

    /// Reads a payload; nil for anything that is not a notice.
    init?(payload: String) {
        guard let kind = payload.first, payload.dropFirst().first == "\n" else { return nil }
        let rest = payload.dropFirst(2)
        // The push, last, may hold line feeds: split only as often as there are fields before it.
        let fields = rest.split(separator: "\n", maxSplits: kind == "e" ? 2 : 1, omittingEmptySubsequences: false)
        switch (kind, fields.count) {
        case ("e", 3), ("E", 2):
            guard let seq = Int(fields[0]), seq > 0, let entity = EntityID(String(fields[1])) else { return nil }
            self = .entityEvent(entity, seq: seq, push: kind == "e" ? String(fields[2]) : nil)
        case ("u", 2):
            guard let user = UserID(String(fields[0])) else { return nil }
            self = .userNotification(user, push: String(fields[1]), storedAs: nil)
        case ("U", 2):
            guard let stored = Int(fields[0]), let user = UserID(String(fields[1])) else { return nil }
            self = .userNotification(user, push: nil, storedAs: stored)
        default:
            return nil
        }
    }
}
