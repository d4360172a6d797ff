public import HeraldCore

/// EventBridge's `PutEvents` on one bus.
public struct EventBridge: Sendable {
    public let client: AWSClient
    /// The bus's name or ARN (`default`).
    public let bus: String
    /// The events' `source`.
    public static let source = "herald.publish"

    public init(client: AWSClient, bus: String) {
        self.client = client
        self.bus = bus
    }

    /// Puts `events`, 10 at a time (PutEvents' limit); one result per event, in order: its
    /// EventBridge id, or the error EventBridge gave for it.
    public func put(_ events: [Event]) async throws -> [Result<String, EventEnvelope.EntryError>] {
        var results: [Result<String, EventEnvelope.EntryError>] = []
        for start in stride(from: 0, to: events.count, by: 10) {
            let batch = events[start..<min(start + 10, events.count)]
            let entries: [JSONValue] = batch.map { event in
                let (type, detail) = Self.entry(of: event)
                return [
                    "Source": .string(Self.source), "DetailType": .string(type),
                    "Detail": .string(String(decoding: JSON.encode(detail), as: UTF8.self)), "EventBusName": .string(bus),
                ]
            }
            let answer = try await client.json(service: "events", target: "AWSEvents.PutEvents", version: "1.1", ["Entries": .array(entries)])
            guard case .array(let outcomes)? = answer["Entries"], outcomes.count == batch.count else {
                throw AWSError(status: 200, type: "UnexpectedAnswer", message: "PutEvents answered \(answer)")
            }
            for outcome in outcomes {
                if let id = outcome["EventId"]?.stringValue {
                    results.append(.success(id))
                } else {
                    let code = outcome["ErrorCode"]?.stringValue ?? "Failed"
                    results.append(
                        .failure(
                            .init(code: "eventbridge_\(code)", message: outcome["ErrorMessage"]?.stringValue ?? "EventBridge did not take the event")
                        )
                    )
                }
            }
        }
        return results
    }

    /// The detail type and detail an event is put on the bus with: the fields the server reads.
    static func entry(of event: Event) -> (type: String, detail: JSONValue) {
        switch event {
        case .entityUpdated(let update):
            var detail: [String: JSONValue] = ["entityId": .string(update.entityID.rawValue)]
            if let message = update.message { detail["message"] = .string(message) }
            if let data = update.data { detail["data"] = data }
            return (Event.entityUpdatedDetailType, .object(detail))
        case .userNotification(let notification):
            var detail: [String: JSONValue] = ["userId": .string(notification.userID.rawValue), "message": .string(notification.message)]
            if let callback = notification.callback { detail["callback"] = .string(callback) }
            return (Event.userNotificationDetailType, .object(detail))
        }
    }
}
