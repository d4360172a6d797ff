import Foundation
public import HeraldCore
import NIOCore

/// The fan-out functions (deploy/aws/README.md): a batch of SQS messages, each an EventBridge event
/// (`Entity Updated` or `Send User Push Notification`, the AWS quick start's detail types), pushed to every
/// subscribed connection through the Management API. An entity's event is numbered (its `HEAD`
/// counter), kept for resume and then sent; SQS's redelivery of the same EventBridge event keeps
/// its number (so clients drop the repeat by `seq`). Connections that are gone are forgotten.
/// Messages that fail are reported for SQS to retry (`batchItemFailures`), the others are done.
public struct FanOutHandler: LambdaHandler {
    let table: HeraldTable
    let api: ManagementAPI
    let settings: LambdaSettings

    /// Pushes in flight at once per event.
    static let concurrentPosts = 32

    public init(table: HeraldTable, api: ManagementAPI, settings: LambdaSettings) {
        self.table = table
        self.api = api
        self.settings = settings
    }

    public func handle(_ event: JSONValue, context: LambdaContext) async throws -> JSONValue {
        var failures: [JSONValue] = []
        if case .array(let records)? = event["Records"] {
            for record in records {
                let messageID = record["messageId"]?.stringValue ?? ""
                do {
                    try await deliver(Array((record["body"]?.stringValue ?? "").utf8))
                } catch {
                    failures.append(["itemIdentifier": .string(messageID)])
                }
            }
        }
        return ["batchItemFailures": .array(failures)]
    }

    /// One EventBridge event. A body that is not one of the AWS quick start's events is dropped, not retried.
    func deliver(_ body: [UInt8]) async throws {
        guard case .success(let entries) = EventEnvelope.decode(body), entries.count == 1, case .success(let event) = entries[0],
            case .object(let envelope)? = JSON.parse(body)
        else { return }
        let id = envelope["id"]?.stringValue ?? EventID.next()
        let time = envelope["time"]?.stringValue ?? Date().formatted(.iso8601)
        switch event {
        case .entityUpdated(let update):
            let seq = try await table.seq(of: id, entity: update.entityID)
            let push = Push.entityUpdated(update, seq: seq, id: id, time: time)
            let text = String(buffer: push.payload)
            try await table.keep(text, seq: seq, of: update.entityID, until: Date() + settings.history.ttl.inSeconds, trimming: settings.history.size)
            try await send(Array(text.utf8), to: try await table.subscribers(of: update.entityID))
        case .userNotification(let notification):
            let push = Push.userNotification(notification, id: id, time: time)
            try await send(Array(push.payload.readableBytesView), to: try await table.connections(of: notification.userID))
        }
    }

    /// The same bytes to every connection, a few at a time; gone ones forgotten.
    private func send(_ data: [UInt8], to connections: [String]) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, connection) in connections.enumerated() {
                if index >= Self.concurrentPosts { try await group.next() }
                group.addTask {
                    if try await api.post(data, to: connection) == .gone { try await table.disconnected(connection) }
                }
            }
            try await group.waitForAll()
        }
    }
}
