/// A close frame the client sent (RFC 6455 §5.5.1): no payload at all, or a status code and a
/// UTF-8 reason.
///
/// The code must be one an endpoint may send (§7.4): 1000–1003, 1007–1014 (the registered ones),
/// or 3000–4999 (libraries and applications). 0–999, 1004 (reserved), 1005, 1006 and 1015 (never
/// on the wire), 1016–2999 (unassigned) and 5000 and above fail the connection with `1002`, as
/// does a payload of exactly one byte. A reason that is not UTF-8 fails it with `1007` (§8.1).
public struct ClientClose: Equatable, Sendable {
    /// The client's status code; nil when its close frame had no payload (recorded as 1005).
    public var code: UInt16?
    public var reason: String

    public init(code: UInt16?, reason: String = "") {
        self.code = code
        self.reason = reason
    }

    /// What a close frame's payload says.
    public enum Reading: Equatable, Sendable {
        /// A close the server answers with the same code.
        case valid(ClientClose)
        /// A close that breaks RFC 6455: the server answers with `reason`.
        case invalid(CloseReason)
    }

    /// Reads a close frame's payload.
    public static func read(_ payload: some Collection<UInt8>) -> Reading {
        guard !payload.isEmpty else { return .valid(ClientClose(code: nil)) }
        guard payload.count >= 2 else { return .invalid(.protocolError("a close payload of one byte")) }
        let code = UInt16(payload.first!) << 8 | UInt16(payload.dropFirst().first!)
        guard isValid(code: code) else { return .invalid(.protocolError("close code \(code) is not allowed")) }
        guard let reason = String(validating: payload.dropFirst(2), as: UTF8.self) else {
            return .invalid(CloseReason(code: 1007, text: "close reason is not valid UTF-8"))
        }
        return .valid(ClientClose(code: code, reason: reason))
    }

    /// True for the codes an endpoint may put in a close frame (RFC 6455 §7.4 and IANA's registry).
    public static func isValid(code: UInt16) -> Bool {
        switch code {
        case 1000...1003, 1007...1014, 3000...4999: true
        default: false
        }
    }
}
