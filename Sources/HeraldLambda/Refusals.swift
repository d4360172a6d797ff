public import Logging

/// Where events the functions will not deliver go: an error line in the log with the ids and the
/// reason, and the event itself, with its reason, into the refused-event queue
/// (`HERALD_REFUSED_QUEUE_URL`), whose alarm says that something was refused.
public struct Refusals: Sendable {
    let sqs: SQS
    let queueURL: String?
    let logger: Logger

    public init(sqs: SQS, queueURL: String?, logger: Logger) {
        self.sqs = sqs
        self.queueURL = queueURL
        self.logger = logger
    }

    /// Refuses one SQS record's event; throws when the refused-event queue did not take it (the
    /// record is then retried, not lost).
    func refuse(_ body: String, code: String, reason: String, messageID: String, eventID: String?) async throws {
        logger.error(
            "Event refused",
            metadata: [
                "reason": "\(reason)", "error.type": "\(code)", "sqs.message.id": "\(messageID)", "event.id": "\(eventID ?? "none")",
            ]
        )
        guard let queueURL else { return }
        let message = SQS.Message(id: "refused", body: body, attributes: ["reason": reason, "code": code, "messageId": messageID])
        if let error = try await sqs.send([message], to: queueURL)["refused"] {
            throw AWSError(status: 0, type: "RefusedQueueFailed", message: error)
        }
    }
}
