import AsyncHTTPClient
import HeraldCore
import HeraldTokens
import Logging
import NIOCore
import NIOHTTP1

/// The application's subscription authorisation hook (PROTOCOL.md §2): asked whether a user may
/// subscribe to an entity, it answers allow or deny; no answer in time, or any other answer,
/// is a deny (fail closed).
///
/// Request: `POST <url>` with `{"userId":…,"entityId":…,"connectionId":…}`.
/// Allowed only by `200` with `{"allow":true}`. The token is never sent.
///
/// Bounded: one connection has at most `callsPerConnection` calls in flight, the node at most
/// `slots.limit` (`--auth-hook-concurrency`); a call waits in line for a node slot, and its
/// timeout starts once it has one.
struct AuthorisationHook: Sendable {
    let url: String
    /// How long one answer may take.
    let timeout: Duration
    /// How long a connection remembers an answer.
    let cacheTTL: Duration
    /// The node's calls in flight.
    let slots: HookCallSlots
    let logger: Logger

    /// The hook's largest accepted answer.
    static let maxAnswerBytes = 4_096
    /// The most calls one connection has in flight.
    static let callsPerConnection = 4

    init(url: String, timeout: Duration, cacheTTL: Duration, concurrency: Int, logger: Logger) {
        self.url = url
        self.timeout = timeout
        self.cacheTTL = cacheTTL
        self.slots = HookCallSlots(limit: concurrency)
        self.logger = logger
    }

    /// The hook's answer for each of `entities`, asked at most `callsPerConnection` at a time; a
    /// cancelled task (its connection closed) stops asking.
    func answers(for entities: [EntityID], user: UserID, connection: ConnectionID) async -> [EntityID: Bool] {
        await withTaskGroup(of: (EntityID, Bool).self) { group in
            var next = entities.makeIterator()
            var answers: [EntityID: Bool] = [:]
            func ask() {
                guard let entity = next.next() else { return }
                group.addTask { (entity, await allows(user: user, entity: entity, connection: connection)) }
            }
            for _ in 0..<Self.callsPerConnection { ask() }
            while let (entity, allowed) = await group.next() {
                answers[entity] = allowed
                if !Task.isCancelled { ask() }
            }
            return answers
        }
    }

    /// One call, once the node has a slot for it.
    func allows(user: UserID, entity: EntityID, connection: ConnectionID) async -> Bool {
        guard await slots.acquire() else { return false }
        defer { slots.release() }
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
            // A closed connection's call, cancelled: nobody is waiting for its answer.
            guard !Task.isCancelled else { return false }
            logger.warning("Authorisation hook gave no answer; subscription refused", metadata: ["error.type": "\(type(of: error))"])
            return false
        }
    }
}
