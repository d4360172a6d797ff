public import HeraldCore

/// The DynamoDB operations the handlers use, on one table, with items as DynamoDB's JSON
/// (`{"pk": {"S": "CONN#1"}, "seq": {"N": "42"}}`).
public struct DynamoDB: Sendable {
    /// One item: attribute name → DynamoDB attribute value.
    public typealias Item = [String: JSONValue]

    public let client: AWSClient
    public let table: String

    public init(client: AWSClient, table: String) {
        self.client = client
        self.table = table
    }

    /// A string attribute value.
    public static func string(_ value: String) -> JSONValue { ["S": .string(value)] }
    /// A number attribute value.
    public static func number(_ value: Int) -> JSONValue { ["N": .string(String(value))] }

    func call(_ operation: String, _ body: [String: JSONValue]) async throws -> JSONValue {
        var body = body
        body["TableName"] = .string(table)
        return try await client.json(service: "dynamodb", target: "DynamoDB_20120810.\(operation)", .object(body))
    }

    /// Writes `item`; with `ifAbsent`, only when no item has its key (false when one had).
    @discardableResult
    func put(_ item: Item, ifAbsent: Bool = false) async throws -> Bool {
        var body: [String: JSONValue] = ["Item": .object(item)]
        if ifAbsent { body["ConditionExpression"] = "attribute_not_exists(pk)" }
        do {
            _ = try await call("PutItem", body)
            return true
        } catch let error as AWSError where error.type == "ConditionalCheckFailedException" {
            return false
        }
    }

    func get(pk: String, sk: String) async throws -> Item? {
        let answer = try await call("GetItem", ["Key": ["pk": Self.string(pk), "sk": Self.string(sk)], "ConsistentRead": .bool(true)])
        return answer["Item"]?.objectValue
    }

    /// Every item of `pk` whose sort key starts with `prefix` (or is after `after`), in sort-key
    /// order, read consistently, all pages.
    func query(pk: String, skBeginsWith prefix: String? = nil, skAfter after: String? = nil) async throws -> [Item] {
        var condition = "pk = :pk"
        var values: [String: JSONValue] = [":pk": Self.string(pk)]
        if let prefix {
            condition += " AND begins_with(sk, :prefix)"
            values[":prefix"] = Self.string(prefix)
        } else if let after {
            condition += " AND sk > :after"
            values[":after"] = Self.string(after)
        }
        var items: [Item] = []
        var start: JSONValue?
        repeat {
            var body: [String: JSONValue] = [
                "KeyConditionExpression": .string(condition), "ExpressionAttributeValues": .object(values), "ConsistentRead": .bool(true),
            ]
            if let start { body["ExclusiveStartKey"] = start }
            let answer = try await call("Query", body)
            if case .array(let page)? = answer["Items"] { items += page.compactMap(\.objectValue) }
            start = answer["LastEvaluatedKey"]
        } while start != nil
        return items
    }

    /// `TransactWriteItems`: all of `items` or none; `token` makes a retried call idempotent.
    func transact(_ items: [JSONValue], token: String) async throws {
        _ = try await client.json(
            service: "dynamodb",
            target: "DynamoDB_20120810.TransactWriteItems",
            ["TransactItems": .array(items), "ClientRequestToken": .string(token)]
        )
    }

    /// Sets the attributes `set` of an existing item and removes those in `remove`; false, and
    /// nothing written, when there is no such item.
    @discardableResult
    func update(pk: String, sk: String, set: [String: JSONValue], remove: [String] = []) async throws -> Bool {
        var names: [String: JSONValue] = [:]
        var values: [String: JSONValue] = [:]
        var assignments: [String] = []
        for (index, (name, value)) in set.sorted(by: { $0.key < $1.key }).enumerated() {
            names["#s\(index)"] = .string(name)
            values[":s\(index)"] = value
            assignments.append("#s\(index) = :s\(index)")
        }
        var removals: [String] = []
        for (index, name) in remove.enumerated() {
            names["#r\(index)"] = .string(name)
            removals.append("#r\(index)")
        }
        let expression =
            (assignments.isEmpty ? [] : ["SET " + assignments.joined(separator: ", ")])
            + (removals.isEmpty ? [] : ["REMOVE " + removals.joined(separator: ", ")])
        guard !expression.isEmpty else { return true }
        var body: [String: JSONValue] = [
            "Key": ["pk": Self.string(pk), "sk": Self.string(sk)],
            "UpdateExpression": .string(expression.joined(separator: " ")),
            "ExpressionAttributeNames": .object(names),
            "ConditionExpression": "attribute_exists(pk)",
        ]
        if !values.isEmpty { body["ExpressionAttributeValues"] = .object(values) }
        do {
            _ = try await call("UpdateItem", body)
            return true
        } catch let error as AWSError where error.type == "ConditionalCheckFailedException" {
            return false
        }
    }

    /// Puts and deletes in batches of 25 (DynamoDB's limit), retrying what it leaves unprocessed.
    /// One key written twice is written once, as the later of the two (puts before deletes):
    /// DynamoDB refuses a whole `BatchWriteItem` that names a key twice.
    func write(puts: [Item] = [], deletes: [(pk: String, sk: String)] = []) async throws {
        var requests: [JSONValue] = Self.onePerKey(
            puts.map { item in (key: Key(pk: item.string("pk") ?? "", sk: item.string("sk") ?? ""), request: ["PutRequest": ["Item": .object(item)]])
            }
                + deletes.map {
                    (key: Key(pk: $0.pk, sk: $0.sk), request: ["DeleteRequest": ["Key": ["pk": Self.string($0.pk), "sk": Self.string($0.sk)]]])
                }
        )
        var attempts = 0
        while !requests.isEmpty {
            let batch = Array(requests.prefix(25))
            requests.removeFirst(batch.count)
            let answer = try await client.json(
                service: "dynamodb",
                target: "DynamoDB_20120810.BatchWriteItem",
                ["RequestItems": .object([table: .array(batch)])]
            )
            if case .array(let unprocessed)? = answer["UnprocessedItems"]?[table], !unprocessed.isEmpty {
                attempts += 1
                guard attempts < 8 else { throw AWSError(status: 200, type: "UnprocessedItems", message: "\(unprocessed.count) writes left undone") }
                try await Task.sleep(for: .milliseconds(25 << attempts))
                requests = unprocessed + requests
            }
        }
    }
}

extension DynamoDB {
    /// An item's primary key.
    struct Key: Hashable {
        var pk: String
        var sk: String
    }

    /// The requests in order, each key's last one only (in the place of its first).
    static func onePerKey(_ requests: [(key: Key, request: JSONValue)]) -> [JSONValue] {
        var last: [Key: JSONValue] = [:]
        for (key, request) in requests { last[key] = request }
        var written: Set<Key> = []
        return requests.compactMap { key, _ in written.insert(key).inserted ? last[key] : nil }
    }
}

extension DynamoDB.Item {
    /// The string attribute `name`.
    func string(_ name: String) -> String? { self[name]?["S"]?.stringValue }
    /// The number attribute `name`.
    func number(_ name: String) -> Int? { self[name]?["N"]?.stringValue.flatMap(Int.init) }
}
