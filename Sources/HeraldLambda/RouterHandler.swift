import AWSSignature
import Foundation
public import HeraldCore
public import Logging

/// The router function (deploy/aws/README.md): entity updates from the ingress queue (where
/// EventBridge's rule and the HTTP publish function put them) into the FIFO queue, each in the
/// message group of its entity, so that one entity's events are numbered and sent in order while
/// every other entity's go on beside them. EventBridge sets one fixed `MessageGroupId` on an SQS
/// target, which would make one queue of the whole deployment. An event that cannot be delivered
/// is refused here (`Refusals`): not one of the accepted shapes, or a push over 128 KB.
public struct RouterHandler: LambdaHandler {
    let sqs: SQS
    let queueURL: String
    let refusals: Refusals
    let logger: Logger

    public init(sqs: SQS, queueURL: String, refusals: Refusals, logger: Logger) {
        self.sqs = sqs
        self.queueURL = queueURL
        self.refusals = refusals
        self.logger = logger
    }

    public func handle(_ event: JSONValue, context: LambdaContext) async throws -> JSONValue {
        guard case .array(let records)? = event["Records"] else { return ["batchItemFailures": []] }
        var messages: [SQS.Message] = []
        var failed: [String] = []
        for record in records {
            let messageID = record["messageId"]?.stringValue ?? ""
            let body = record["body"]?.stringValue ?? ""
            do {
                if let message = try await route(body, messageID: messageID) { messages.append(message) }
            } catch {
                logger.error("Record failed", metadata: ["sqs.message.id": "\(messageID)", "error": "\(error)"])
                failed.append(messageID)
            }
        }
        for (id, error) in try await sqs.send(messages, to: queueURL) {
            logger.error("Not taken by the entity queue", metadata: ["sqs.message.id": "\(id)", "error": "\(error)"])
            failed.append(id)
        }
        return ["batchItemFailures": .array(failed.map { ["itemIdentifier": .string($0)] })]
    }

    /// The FIFO message for one record, or nil when it was refused.
    private func route(_ body: String, messageID: String) async throws -> SQS.Message? {
        let envelope = JSON.parse(Array(body.utf8))?.objectValue
        let eventID = envelope?["id"]?.stringValue
        guard case .success(let entries) = EventEnvelope.decode(Array(body.utf8)), entries.count == 1 else {
            try await refusals.refuse(body, code: "invalid_event", reason: "not one EventBridge event", messageID: messageID, eventID: eventID)
            return nil
        }
        let event: Event
        switch entries[0] {
        case .success(let decoded): event = decoded
        case .failure(let error):
            try await refusals.refuse(body, code: error.code, reason: error.message, messageID: messageID, eventID: eventID)
            return nil
        }
        guard case .entityUpdated(let update) = event else {
            try await refusals.refuse(
                body,
                code: "invalid_event",
                reason: "the router takes entity updates only",
                messageID: messageID,
                eventID: eventID
            )
            return nil
        }
        let id = eventID ?? messageID
        if let tooLarge = PushSize.refusal(of: event, id: id, time: envelope?["time"]?.stringValue ?? Date().formatted(.iso8601)) {
            try await refusals.refuse(body, code: "push_too_large", reason: tooLarge, messageID: messageID, eventID: eventID)
            return nil
        }
        return SQS.Message(
            id: messageID,
            body: body,
            groupID: Self.groupID(of: update.entityID),
            deduplicationID: AWSSignatureV4.sha256Hex(Array(id.utf8))
        )
    }

    /// The entity's message group: its id when SQS takes it as one (at most 128 characters of
    /// ASCII letters, digits and punctuation), else `#` and its SHA-256 (two entities sharing a
    /// group only share an order).
    public static func groupID(of entity: EntityID) -> String {
        let raw = entity.rawValue
        let fits = raw.utf8.count <= 128 && raw.utf8.allSatisfy { (0x21...0x7E).contains($0) }
        return fits ? raw : "#" + AWSSignatureV4.sha256Hex(Array(raw.utf8))
    }
}
