import AWSSignature
import Foundation
public import HeraldCore
import Synchronization

/// The AWS shape's single DynamoDB table (deploy/aws/README.md), every item keyed by `pk` and `sk`:
///
/// | item | pk | sk | attributes |
/// |---|---|---|---|
/// | a connection | `CONN#<id>` | `META` | `userId`, `sourceIp`, `userAgent`, `connectedAt` (ms), `exp`, `entities`, `ttl` |
/// | its subscription | `CONN#<id>` | `SUB#<entity>` | `ttl` |
/// | an entity's subscriber | `ENTITY#<entity>` | `CONN#<id>` | `ttl` |
/// | a user's connection | `USER#<user>` | `CONN#<id>` | `ttl` |
/// | an entity's latest seq | `ENTITY#<entity>` | `HEAD` | `seq` |
/// | a kept event | `HIST#<entity>` | `SEQ#<seq, 19 digits>` | `push` (the exact frame text), `ttl` |
/// | an EventBridge event's number | `EVENT#<EventBridge id>` | `META` | `seq`, `ttl` (written with `HEAD`, in one transaction; SQS may deliver twice) |
/// | the epoch | `META` | `EPOCH` | `value` |
///
/// `exp` is the token's (moved by each `refresh`), `entities` — with claim authorisation only —
/// what it allows, as JSON text (`["order-*"]`).
/// `ttl` is DynamoDB's time-to-live attribute (epoch seconds): a connection's items outlive its
/// longest life (API Gateway closes a connection after 2 hours), kept events the history window.
public struct HeraldTable: Sendable {
    public let database: DynamoDB
    /// The epoch once read: it never changes, so each execution environment reads it once.
    private let knownEpoch = KnownEpoch()

    public init(database: DynamoDB) { self.database = database }

    /// One connection, as the `$connect` route saw it.
    public struct Connection: Equatable, Sendable {
        public var id: String
        public var userID: UserID
        public var sourceIP: String
        public var userAgent: String?
        /// Milliseconds since 1970.
        public var connectedAt: Int
        /// The token's `exp`, in epoch seconds.
        public var expiresAt: Int?
        /// What the token's claim allows, with claim authorisation; nil when it is off.
        public var allowedEntities: EntityPatterns?

        public init(
            id: String,
            userID: UserID,
            sourceIP: String,
            userAgent: String?,
            connectedAt: Int,
            expiresAt: Int? = nil,
            allowedEntities: EntityPatterns? = nil
        ) {
            (self.id, self.userID, self.sourceIP, self.userAgent, self.connectedAt) = (id, userID, sourceIP, userAgent, connectedAt)
            (self.expiresAt, self.allowedEntities) = (expiresAt, allowedEntities)
        }
    }

    /// What a message needs of its connection: who, what its token allows, what it subscribed to.
    public struct ConnectionState: Equatable, Sendable {
        public var userID: UserID
        public var subscriptions: [EntityID]
        public var allowedEntities: EntityPatterns?
    }

    /// How long a connection's items are kept: past API Gateway's 2-hour connection limit.
    static let connectionTTL: TimeInterval = 3 * 3600

    // MARK: Connections

    public func connected(_ connection: Connection, now: Date = Date()) async throws {
        let ttl = DynamoDB.number(Int(now.timeIntervalSince1970 + Self.connectionTTL))
        var meta: DynamoDB.Item = [
            "pk": DynamoDB.string("CONN#\(connection.id)"), "sk": DynamoDB.string("META"), "userId": DynamoDB.string(connection.userID.rawValue),
            "sourceIp": DynamoDB.string(connection.sourceIP), "connectedAt": DynamoDB.number(connection.connectedAt), "ttl": ttl,
        ]
        if let agent = connection.userAgent { meta["userAgent"] = DynamoDB.string(agent) }
        if let expiresAt = connection.expiresAt { meta["exp"] = DynamoDB.number(expiresAt) }
        if let allowed = connection.allowedEntities { meta["entities"] = Self.entities(allowed) }
        let byUser: DynamoDB.Item = ["pk": DynamoDB.string("USER#\(connection.userID)"), "sk": DynamoDB.string("CONN#\(connection.id)"), "ttl": ttl]
        try await database.write(puts: [meta, byUser])
    }

    /// The connection's user, what its token allows and what it subscribed to; nil when it is
    /// not (or no longer) known.
    public func connection(_ id: String) async throws -> ConnectionState? {
        let items = try await database.query(pk: "CONN#\(id)")
        guard let meta = items.first(where: { $0.string("sk") == "META" }), let user = meta.string("userId").flatMap(UserID.init) else { return nil }
        let entities = items.compactMap { $0.string("sk") }.filter { $0.hasPrefix("SUB#") }.compactMap { EntityID(String($0.dropFirst(4))) }
        return ConnectionState(
            userID: user,
            subscriptions: entities,
            allowedEntities: meta.string("entities").map { Self.entities($0) ?? EntityPatterns([]) }
        )
    }

    /// A `refresh` replaced the connection's token: its `exp` and what it allows.
    public func tokenReplaced(_ id: String, expiresAt: Int, allowedEntities: EntityPatterns?) async throws {
        var set: [String: JSONValue] = ["exp": DynamoDB.number(expiresAt)]
        if let allowedEntities { set["entities"] = Self.entities(allowedEntities) }
        try await database.update(pk: "CONN#\(id)", sk: "META", set: set, remove: allowedEntities == nil ? ["entities"] : [])
    }

    /// When the connection was opened (milliseconds since 1970); nil when it is not known.
    public func connectedAt(of id: String) async throws -> Int? {
        try await database.get(pk: "CONN#\(id)", sk: "META")?.number("connectedAt")
    }

    /// Forgets a connection and every subscription it held.
    public func disconnected(_ id: String) async throws {
        guard let state = try await connection(id) else { return }
        let (user, entities) = (state.userID, state.subscriptions)
        var deletes: [(pk: String, sk: String)] = [("CONN#\(id)", "META"), ("USER#\(user)", "CONN#\(id)")]
        for entity in entities { deletes += [("CONN#\(id)", "SUB#\(entity)"), ("ENTITY#\(entity)", "CONN#\(id)")] }
        try await database.write(deletes: deletes)
    }

    public func subscribe(_ id: String, to entities: [EntityID], now: Date = Date()) async throws {
        let ttl = DynamoDB.number(Int(now.timeIntervalSince1970 + Self.connectionTTL))
        try await database.write(
            puts: entities.flatMap { entity -> [DynamoDB.Item] in
                [
                    ["pk": DynamoDB.string("CONN#\(id)"), "sk": DynamoDB.string("SUB#\(entity)"), "ttl": ttl],
                    ["pk": DynamoDB.string("ENTITY#\(entity)"), "sk": DynamoDB.string("CONN#\(id)"), "ttl": ttl],
                ]
            }
        )
    }

    public func unsubscribe(_ id: String, from entities: [EntityID]) async throws {
        try await database.write(deletes: entities.flatMap { [("CONN#\(id)", "SUB#\($0)"), ("ENTITY#\($0)", "CONN#\(id)")] })
    }

    /// The connections subscribed to `entity`.
    public func subscribers(of entity: EntityID) async throws -> [String] {
        try await database.query(pk: "ENTITY#\(entity)", skBeginsWith: "CONN#").compactMap { $0.string("sk")?.dropFirst(5) }.map(String.init)
    }

    /// The connections of `user`.
    public func connections(of user: UserID) async throws -> [String] {
        try await database.query(pk: "USER#\(user)", skBeginsWith: "CONN#").compactMap { $0.string("sk")?.dropFirst(5) }.map(String.init)
    }

    // MARK: Streams

    /// The entity's latest `seq` (0 before the first).
    public func latestSeq(of entity: EntityID) async throws -> Int {
        try await database.get(pk: "ENTITY#\(entity)", sk: "HEAD")?.number("seq") ?? 0
    }

    /// Keeps an event's push for resume until `until`, and lets go of the one `size` events
    /// older (the count limit; the age limit is DynamoDB's time-to-live). Size 0 keeps nothing.
    public func keep(_ push: String, seq: Int, of entity: EntityID, until: Date, trimming size: Int) async throws {
        guard size > 0 else { return }
        try await database.put([
            "pk": DynamoDB.string("HIST#\(entity)"), "sk": DynamoDB.string(Self.seqKey(seq)), "push": DynamoDB.string(push),
            "ttl": DynamoDB.number(Int(until.timeIntervalSince1970)),
        ])
        if seq > size { try await database.write(deletes: [("HIST#\(entity)", Self.seqKey(seq - size))]) }
    }

    /// The kept events after `since`, oldest first, that have not expired by `now` (DynamoDB's
    /// time-to-live deletes lazily).
    public func kept(of entity: EntityID, after since: Int, now: Date = Date()) async throws -> [(seq: Int, push: String)] {
        try await database.query(pk: "HIST#\(entity)", skAfter: Self.seqKey(since)).compactMap { item in
            guard let seq = item.string("sk").flatMap({ Int($0.dropFirst(4)) }), let push = item.string("push"),
                (item.number("ttl") ?? .max) > Int(now.timeIntervalSince1970)
            else { return nil }
            return (seq, push)
        }
    }

    /// The `seq` of the EventBridge event `eventID`: numbered on its first delivery and
    /// remembered for a day, so SQS's redelivery of the same event keeps it. The entity's `HEAD`
    /// moves and the event's number is recorded in one transaction, conditional on `HEAD` being
    /// where it was read, with a request token made of the event and its number: a retried call
    /// (an answer lost on the way back) is not applied twice, and numbers have no gaps.
    public func seq(of eventID: String, entity: EntityID, now: Date = Date()) async throws -> Int {
        let event = (pk: "EVENT#\(eventID)", sk: "META")
        let head = (pk: "ENTITY#\(entity)", sk: "HEAD")
        for _ in 0..<8 {
            if let known = try await database.get(pk: event.pk, sk: event.sk)?.number("seq") { return known }
            let latest = try await latestSeq(of: entity)
            let seq = latest + 1
            let moveHead: JSONValue = [
                "Update": [
                    "TableName": .string(database.table), "Key": ["pk": DynamoDB.string(head.pk), "sk": DynamoDB.string(head.sk)],
                    "UpdateExpression": "SET seq = :new",
                    "ConditionExpression": .string(latest == 0 ? "attribute_not_exists(seq) OR seq = :old" : "seq = :old"),
                    "ExpressionAttributeValues": [":new": DynamoDB.number(seq), ":old": DynamoDB.number(latest)],
                ]
            ]
            let record: JSONValue = [
                "Put": [
                    "TableName": .string(database.table), "ConditionExpression": "attribute_not_exists(pk)",
                    "Item": [
                        "pk": DynamoDB.string(event.pk), "sk": DynamoDB.string(event.sk), "seq": DynamoDB.number(seq),
                        "ttl": DynamoDB.number(Int(now.timeIntervalSince1970) + 86_400),
                    ],
                ]
            ]
            let token = String(AWSSignatureV4.sha256Hex(Array("\(eventID)#\(seq)".utf8)).prefix(36))
            do {
                try await database.transact([moveHead, record], token: token)
                return seq
            } catch let error as AWSError where error.type == "TransactionCanceledException" {
                continue  // numbered meanwhile (this event by a redelivery, or another event): read again
            }
        }
        throw AWSError(status: 0, type: "NumberingContended", message: "could not number event \(eventID) of \(entity) in 8 tries")
    }

    /// The deployment's epoch, made on first use and read once per execution environment.
    public func epoch() async throws -> String {
        if let known = knownEpoch.known { return known }
        var value = try await database.get(pk: "META", sk: "EPOCH")?.string("value")
        if value == nil {
            let made = String(UInt64.random(in: 1...UInt64.max), radix: 36)
            _ = try await database.put(
                ["pk": DynamoDB.string("META"), "sk": DynamoDB.string("EPOCH"), "value": DynamoDB.string(made)],
                ifAbsent: true
            )
            value = try await database.get(pk: "META", sk: "EPOCH")?.string("value") ?? made
        }
        let epoch = value ?? ""
        knownEpoch.remember(epoch)
        return epoch
    }

    private final class KnownEpoch: Sendable {
        let value = Mutex<String?>(nil)
        var known: String? { value.withLock { $0 } }
        func remember(_ epoch: String) { value.withLock { $0 = epoch } }
    }

    /// What a token allows, as the `entities` attribute: JSON text.
    static func entities(_ allowed: EntityPatterns) -> JSONValue {
        DynamoDB.string(String(decoding: JSON.encode(JSONValue.array(allowed.patterns.map { .string($0) })), as: UTF8.self))
    }

    /// The `entities` attribute (or the authorizer's context value) read back; nil when it is not a JSON list of strings.
    static func entities(_ text: String) -> EntityPatterns? {
        guard case .array(let values)? = JSON.parse(Array(text.utf8)) else { return nil }
        return EntityPatterns(values.compactMap(\.stringValue))
    }

    /// `SEQ#` and 19 digits: sort keys that order as the numbers do.
    static func seqKey(_ seq: Int) -> String {
        let digits = String(max(seq, 0))
        return "SEQ#" + String(repeating: "0", count: max(0, 19 - digits.count)) + digits
    }
}
