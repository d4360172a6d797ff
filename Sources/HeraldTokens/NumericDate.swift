public import HeraldCore

/// A JWT NumericDate (RFC 7519 §2): seconds since 1970-01-01T00:00:00Z, as the `exp`, `nbf` and
/// `iat` claims carry it.
///
/// Herald accepts JSON numbers from 0 to 253402300799 (9999-12-31T23:59:59Z), fractions included
/// (the RFC allows non-integer values); anything else — negative, larger, a string, a boolean —
/// is not a NumericDate, and the token is `token_invalid`. Comparisons use the exact value;
/// `wholeSeconds` truncates the fraction (what `refreshed.expiresAt` reports).
public struct NumericDate: Equatable, Sendable {
    /// The accepted seconds: none before 1970, none after the year 9999.
    public static let range: ClosedRange<Double> = 0...253_402_300_799

    /// Seconds since 1970, within `range`.
    public let seconds: Double

    /// The claim's value, or nil when it is not a number within `range`.
    public init?(_ claim: JSONValue) {
        let seconds: Double
        switch claim {
        case .int(let value): seconds = Double(value)
        case .double(let value): seconds = value
        default: return nil
        }
        guard Self.range.contains(seconds) else { return nil }
        // -0 is 0: it is in range, and stays out of the arithmetic below.
        self.seconds = seconds == 0 ? 0 : seconds
    }

    /// The whole seconds, the fraction dropped (always representable: `range` is small).
    public var wholeSeconds: Int { Int(seconds.rounded(.towardZero)) }
}
