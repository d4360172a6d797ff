import HeraldCore

/// The SQS operations the functions use, over SQS's JSON protocol.
public struct SQS: Sendable {
    public let client: AWSClient

    public init(client: AWSClient) { self.client = client }

    /// One message of a batch: `id` names it in the answer; FIFO queues need `groupID` and `deduplicationID`.
    public struct Message: Sendable {
        public var id: String
        public var body: String
        public var groupID: String?
        public var deduplicationID: String?
        /// String message attributes (name → value).
        public var attributes: [String: String] = [:]

        public init(id: String, body: String, groupID: String? = nil, deduplicationID: String? = nil, attributes: [String: String] = [:]) {
            (self.id, self.body, self.groupID, self.deduplicationID, self.attributes) = (id, body, groupID, deduplicationID, attributes)
        }
    }

    /// `SendMessageBatch` in batches of 10 (SQS's limit); returns the ids SQS did not take, each with its error.
    public func send(_ messages: [Message], to queueURL: String) async throws -> [String: String] {
        var failed: [String: String] = [:]
        for start in stride(from: 0, to: messages.count, by: 10) {
            let entries: [JSONValue] = messages[start..<min(start + 10, messages.count)].map { message in
                var entry: [String: JSONValue] = ["Id": .string(message.id), "MessageBody": .string(message.body)]
                if let group = message.groupID { entry["MessageGroupId"] = .string(group) }
                if let deduplication = message.deduplicationID { entry["MessageDeduplicationId"] = .string(deduplication) }
                if !message.attributes.isEmpty {
                    entry["MessageAttributes"] = .object(message.attributes.mapValues { ["DataType": "String", "StringValue": .string($0)] })
                }
                return .object(entry)
            }
            let answer = try await client.json(
                service: "sqs",
                target: "AmazonSQS.SendMessageBatch",
                ["QueueUrl": .string(queueURL), "Entries": .array(entries)]
            )
            if case .array(let refused)? = answer["Failed"] {
                for entry in refused {
                    failed[entry["Id"]?.stringValue ?? ""] = "\(entry["Code"]?.stringValue ?? "Failed"): \(entry["Message"]?.stringValue ?? "")"
                }
            }
        }
        return failed
    }
}
