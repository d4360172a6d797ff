import HeraldCore
import Hummingbird

/// The id in a route's path, decoded once: RFC 3986 percent-decoding (`%XX` is one byte; `+` is a
/// plus, as in any path), the bytes read as UTF-8, then checked with the protocol's id rules.
///
/// Hummingbird hands route parameters over as they are on the wire (`a%20b`); its own decoder is
/// internal to it and replaces invalid UTF-8 instead of refusing it, so Herald decodes here.
enum PathParameter {
    /// Why a path segment is not a decodable id.
    enum Problem: Error, Equatable {
        /// A `%` not followed by two hex digits.
        case malformedEscape
        /// The decoded bytes are not UTF-8.
        case notUTF8

        var message: String {
            switch self {
            case .malformedEscape: "the id in the path has a % that is not followed by two hex digits (malformed percent-encoding)"
            case .notUTF8: "the id in the path is not UTF-8 once percent-decoded"
            }
        }
    }

    /// `raw` percent-decoded once.
    static func decode(_ raw: some StringProtocol) -> Result<String, Problem> {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(raw.utf8.count)
        var iterator = raw.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                return .failure(.malformedEscape)
            }
            bytes.append(high << 4 | low)
        }
        guard let text = String(validating: bytes, as: UTF8.self) else { return .failure(.notUTF8) }
        return .success(text)
    }

    /// The route's `name` parameter decoded, or the `400` that refuses it (before the body is read).
    static func decoded(_ name: String, in context: BasicRequestContext) throws(HTTPRefusal) -> String {
        switch decode(context.parameters.get(name) ?? "") {
        case .success(let text): text
        case .failure(let problem): throw HTTPRefusal.badRequest("invalid_path", problem.message).closing
        }
    }

    /// The entity id of the path, or `400 invalid_entity_id`.
    static func entityID(_ name: String, in context: BasicRequestContext) throws(HTTPRefusal) -> EntityID {
        guard let id = EntityID(try decoded(name, in: context)) else { throw invalid("invalid_entity_id", "entity id") }
        return id
    }

    /// The user id of the path, or `400 invalid_user_id`.
    static func userID(_ name: String, in context: BasicRequestContext) throws(HTTPRefusal) -> UserID {
        guard let id = UserID(try decoded(name, in: context)) else { throw invalid("invalid_user_id", "user id") }
        return id
    }

    /// The connection id of the path (any id the protocol's rules allow; an unknown one is the route's
    /// `404`/`410`), or `400 invalid_connection_id`.
    static func connectionID(_ name: String, in context: BasicRequestContext) throws(HTTPRefusal) -> String {
        let text = try decoded(name, in: context)
        guard EntityID(text) != nil else { throw invalid("invalid_connection_id", "connection id") }
        return text
    }

    private static func invalid(_ reason: String, _ what: String) -> HTTPRefusal {
        HTTPRefusal.badRequest(reason, "the \(what) in the path must be 1 to 256 UTF-8 bytes with no control characters").closing
    }

    private static func hexValue(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
