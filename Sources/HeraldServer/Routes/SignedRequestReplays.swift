import AWSSignature
import HTTPTypes
import Synchronization

/// The node's memory of accepted SigV4 signatures on requests that change something (every
/// method but `GET`, `HEAD` and `OPTIONS`): each such signature is accepted once while its
/// `X-Amz-Date` is within the 15-minute skew, so a captured signed `POST` or `DELETE` cannot be
/// sent again. Bounded: at most `capacity` signatures (the oldest forgotten first).
final class SignedRequestReplays: Sendable {
    /// At most this many signatures are kept (about 1 MiB).
    static let capacity = 10_000
    private let cache = Mutex(AWSSignatureV4.ReplayCache(capacity: capacity))

    /// True when `method` is one a replay could repeat the effect of.
    static func isGuarded(_ method: HTTPRequest.Method) -> Bool {
        ![.get, .head, .options].contains(method)
    }

    /// False when `signature` was accepted before on a guarded request and is still within the
    /// skew; otherwise records it (for a guarded `method`) and returns true.
    func accept(_ signature: AWSSignatureV4.Signature, method: HTTPRequest.Method, now: Double) -> Bool {
        guard Self.isGuarded(method) else { return true }
        return cache.withLock { $0.firstUse(of: signature, now: now) }
    }
}
