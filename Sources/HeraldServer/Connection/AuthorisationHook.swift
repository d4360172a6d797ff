import AsyncHTTPClient
import HeraldCore
import HeraldTokens
import Logging
import NIOCore
import NIOHTTP1

/// The application's subscription authorisation hook (SPEC §3): asked whether a user may
/// subscribe to an entity, it answers allow or deny; no answer in time, or any other answer,
/// is a deny (fail closed).
///
/// Request: `POST <url>` with `{"userId":…,"entityId":…,"connectionId":…}`.
/// Allowed only by `200` with `{"allow":true}`. The token is never sent.
struct AuthorisationHook: Sendable {
    let url: String
    /// How long one answer may take.
    let timeout: Duration
    /// How long a connection remembers an answer.
    let cacheTTL: Duration
    let logger: Logger

    /// The hook's largest accepted answer.
    static let maxAnswerBytes = 4_096

    func allows(user: UserID, entity: EntityID, connection: ConnectionID) async -> Bool {
        var body = JSONObjectWriter(capacity: 64 + user.rawValue.utf8.count + entity.rawValue.utf8.count)
        body.add("userId", user.rawValue)
        body.add("entityId", entity.rawValue)
        body.add("connectionId", "\(connection)")
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(body.finish())
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: TimeAmount(timeout))
            let answer = try await response.body.collect(upTo: Self.maxAnswerBytes)
            return response.status == .ok && JSON.parse(answer.readableBytesView)?["allow"] == .bool(true)
        } catch {
            logger.warning("Authorisation hook gave no answer; subscription refused", metadata: ["error.type": "\(type(of: error))"])
            return false
        }
    }
}
