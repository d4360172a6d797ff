import Foundation
public import HeraldCore
public import Logging
import NIOCore

/// The fan-out function (deploy/aws/README.md): a batch of SQS messages, each an EventBridge
/// event (`Entity Updated` from the FIFO queue, one message group per entity, or `Send User Push
/// Notification` from the standard queue), pushed to every subscribed connection through the
/// Management API. An entity's event is numbered (its `HEAD`), kept for resume and then sent;
/// SQS's redelivery of the same EventBridge event keeps its number (so clients drop the repeat
/// by `seq`).
///
/// Failures:
/// - a recipient's throttling, `5xx` or broken connection is retried for that recipient with
///   back-off (`RetryPolicy`); still failing, it is logged and skipped — the event is not sent
///   to everyone again for one recipient. `400`, `403` and `413` are permanent: logged, skipped;
/// - `410` forgets the connection, unless it was opened in the last 30 s (a notification racing
///   the `$connect` that is still recording it);
/// - an event that cannot be delivered (not one of the accepted shapes, a push over 128 KB) is
///   refused (`Refusals`), not retried;
/// - a record that fails (DynamoDB, or the invocation's deadline) is reported in
///   `batchItemFailures`; on the FIFO queue processing stops there and every later record is
///   reported too (SQS's rule for FIFO partial batches: order within a group is kept). No record
///   is started when less than `startReserve` of the invocation is left.
public struct FanOutHandler: LambdaHandler {
    let table: HeraldTable
    let api: ManagementAPI
    let settings: LambdaSettings
    let refusals: Refusals
    let logger: Logger

    /// The time left below which no record is started.
    static let startReserve: Duration = .seconds(3)
    /// The part of the invocation no post may use (to answer Lambda in time).
    static let answerReserve: Duration = .seconds(1)
    /// A `410` this soon after the connection's `$connect` does not forget it.
    static let connectGrace: TimeInterval = 30

    public init(table: HeraldTable, api: ManagementAPI, settings: LambdaSettings, refusals: Refusals, logger: Logger) {
        self.table = table
        self.api = api
        self.settings = settings
        self.refusals = refusals
        self.logger = logger
    }

    public func handle(_ event: JSONValue, context: LambdaContext) async throws -> JSONValue {
        guard case .array(let records)? = event["Records"] else { return ["batchItemFailures": []] }
        let deadline = context.deadline - Self.answerReserve
        var failed: [String] = []
        for (index, record) in records.enumerated() {
            let messageID = record["messageId"]?.stringValue ?? ""
            let ordered = record["eventSourceARN"]?.stringValue?.hasSuffix(".fifo") ?? false
            let rest = records[index...].map { $0["messageId"]?.stringValue ?? "" }
            guard context.remaining() > Self.startReserve else {
                logger.warning("Out of time: records left for SQS to deliver again", metadata: ["sqs.message.ids": "\(rest)"])
                failed += rest
                break
            }
            do {
                try await deliver(record["body"]?.stringValue ?? "", messageID: messageID, deadline: deadline)
            } catch {
                logger.error(
                    "Record failed",
                    metadata: ["sqs.message.id": "\(messageID)", "error": "\(error)", "error.type": "\(Self.type(of: error))"]
                )
                if ordered {
                    failed += rest
                    break
                }
                failed.append(messageID)
            }
        }
        return ["batchItemFailures": .array(failed.map { ["itemIdentifier": .string($0)] })]
    }

    /// One EventBridge event.
    func deliver(_ body: String, messageID: String, deadline: ContinuousClock.Instant) async throws {
        let envelope = JSON.parse(Array(body.utf8))?.objectValue
        let id = envelope?["id"]?.stringValue ?? EventID.next()
        let time = envelope?["time"]?.stringValue ?? Date().formatted(.iso8601)
        let event: Event
        switch EventEnvelope.decode(Array(body.utf8)) {
        case .success(let entries) where entries.count == 1:
            switch entries[0] {
            case .success(let decoded): event = decoded
            case .failure(let error):
                return try await refusals.refuse(
                    body,
                    code: error.code,
                    reason: error.message,
                    messageID: messageID,
                    eventID: envelope?["id"]?.stringValue
                )
            }
        case .success:
            return try await refusals.refuse(body, code: "invalid_event", reason: "a record must hold one event", messageID: messageID, eventID: nil)
        case .failure(let error):
            return try await refusals.refuse(body, code: "invalid_event", reason: error.message, messageID: messageID, eventID: nil)
        }
        if let tooLarge = PushSize.refusal(of: event, id: id, time: time) {
            return try await refusals.refuse(body, code: "push_too_large", reason: tooLarge, messageID: messageID, eventID: id)
        }
        switch event {
        case .entityUpdated(let update):
            let seq = try await table.seq(of: id, entity: update.entityID)
            let text = String(buffer: Push.entityUpdated(update, seq: seq, id: id, time: time).payload)
            try await table.keep(text, seq: seq, of: update.entityID, until: Date() + settings.history.ttl.inSeconds, trimming: settings.history.size)
            try await send(Array(text.utf8), to: try await table.subscribers(of: update.entityID), eventID: id, deadline: deadline)
        case .userNotification(let notification):
            let push = Push.userNotification(notification, id: id, time: time)
            try await send(
                Array(push.payload.readableBytesView),
                to: try await table.connections(of: notification.userID),
                eventID: id,
                deadline: deadline
            )
        }
    }

    /// The same bytes to every connection, `postConcurrency` at a time. Throws only what makes
    /// the record fail: the deadline, DynamoDB.
    private func send(_ data: [UInt8], to connections: [String], eventID: String, deadline: ContinuousClock.Instant) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, connection) in connections.enumerated() {
                if index >= settings.postConcurrency { try await group.next() }
                group.addTask { try await post(data, to: connection, eventID: eventID, deadline: deadline) }
            }
            try await group.waitForAll()
        }
    }

    private func post(_ data: [UInt8], to connection: String, eventID: String, deadline: ContinuousClock.Instant) async throws {
        let metadata: Logger.Metadata = ["connection.id": "\(connection)", "event.id": "\(eventID)"]
        let outcome: ManagementAPI.Outcome
        do {
            outcome = try await api.post(data, to: connection, deadline: deadline)
        } catch let error as AWSError where error.type != AWSError.outOfTime.type {
            logger.error(
                "Push failed after retries",
                metadata: metadata.merging(["error.type": "\(error.type)", "http.status": "\(error.status)", "error": "\(error.message)"]) { $1 }
            )
            return
        }
        switch outcome {
        case .sent:
            return
        case .refused(let status, let type):
            logger.error("Push refused", metadata: metadata.merging(["error.type": "\(type)", "http.status": "\(status)"]) { $1 })
        case .gone:
            if let opened = try await table.connectedAt(of: connection), Date().timeIntervalSince1970 - Double(opened) / 1000 < Self.connectGrace {
                logger.info("Gone right after its $connect: kept", metadata: metadata)
                return
            }
            try await table.disconnected(connection)
        }
    }

    static func type(of error: any Error) -> String {
        (error as? AWSError)?.type ?? "\(Swift.type(of: error))"
    }
}
