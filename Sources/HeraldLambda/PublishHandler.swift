import Foundation
public import HeraldCore
import HeraldTokens
public import Logging

/// The publish function behind the API Gateway HTTP API (deploy/aws/README.md): the server's
/// publish API (`POST /events` in every accepted shape, `POST /entities/{entityId}/updates`,
/// `POST /users/{userId}/notifications`), read and answered by `PublishAPI` as the server reads
/// and answers it, with the same publish-key check (`Authorization: Bearer <key>`, keys from
/// Secrets Manager). Good events are put on the EventBridge bus, the path every other publisher
/// uses; their answer is the EventBridge event id, which is also the push's `id`, and no `seq`
/// (events are numbered later, in order, by the fan-out). An event whose push would be over API
/// Gateway's 128 KB is a failed entry (`push_too_large`) instead of a refusal later.
public struct PublishHandler: LambdaHandler {
    let bus: EventBridge
    let keys: [[UInt8]]
    let logger: Logger

    public init(bus: EventBridge, keys: [String], logger: Logger) {
        self.bus = bus
        self.keys = keys.map { Array($0.utf8) }
        self.logger = logger
    }

    public func handle(_ event: JSONValue, context: LambdaContext) async throws -> JSONValue {
        let headers = event["headers"]?.objectValue ?? [:]
        let authorization = headers.first { $0.key.lowercased() == "authorization" }?.value.stringValue
        guard PublishAPI.accepts(ConnectCredentials.bearer(authorization), keys: keys) else {
            return Self.refusal(.init(status: 401, reason: "unauthorized", message: "a valid publish key is required: Authorization: Bearer <key>"))
        }
        let method = event["requestContext"]?["http"]?["method"]?.stringValue ?? ""
        let path = (event["rawPath"]?.stringValue ?? "/").split(separator: "/", omittingEmptySubsequences: false).dropFirst().map(String.init)
        let isShortcut = path.count == 3 && ((path[0], path[2]) == ("entities", "updates") || (path[0], path[2]) == ("users", "notifications"))
        guard method == "POST", path == ["events"] || isShortcut else {
            return Self.refusal(.init(status: 404, reason: "not_found", message: "no publish route \(method) /\(path.joined(separator: "/"))"))
        }
        let text = event["body"]?.stringValue ?? ""
        let body = event["isBase64Encoded"] == .bool(true) ? Array(Data(base64Encoded: text) ?? Data()) : Array(text.utf8)
        guard body.count <= PublishAPI.maxBodyBytes else {
            return Self.refusal(.init(status: 413, reason: "payload_too_large", message: "the body is over \(PublishAPI.maxBodyBytes) bytes"))
        }
        if path == ["events"] { return await publishEntries(body) }
        let shortcut: PublishAPI.Shortcut = path[0] == "entities" ? .entityUpdate : .userNotification
        guard let id = path[1].removingPercentEncoding, shortcut == .entityUpdate ? EntityID(id) != nil : UserID(id) != nil else {
            let what = shortcut == .entityUpdate ? ("invalid_entity_id", "entity id") : ("invalid_user_id", "user id")
            return Self.refusal(
                .init(status: 400, reason: what.0, message: "the \(what.1) in the path must be 1 to 256 UTF-8 bytes with no control characters")
            )
        }
        switch PublishAPI.event(shortcut, id: id, body: body) {
        case .failure(let refusal): return Self.refusal(refusal)
        case .success(let event):
            if let tooLarge = PushSize.refusal(of: event, id: EventID.next(), time: Date().formatted(.iso8601)) {
                return Self.refusal(.init(status: 400, reason: "push_too_large", message: tooLarge))
            }
            guard let outcome = await put([event])?.first else { return Self.unavailable }
            switch outcome {
            case .success(let receipt): return Self.answer(202, PublishAPI.answer(to: receipt))
            case .failure: return Self.unavailable
            }
        }
    }

    private func publishEntries(_ body: [UInt8]) async -> JSONValue {
        let entries: [Result<Event, EventEnvelope.EntryError>]
        switch PublishAPI.entries(in: body) {
        case .failure(let refusal): return Self.refusal(refusal)
        case .success(let decoded): entries = decoded
        }
        let checked: [Result<Event, EventEnvelope.EntryError>] = entries.map { entry in
            entry.flatMap { event in
                PushSize.refusal(of: event, id: EventID.next(), time: Date().formatted(.iso8601)).map {
                    .failure(.init(code: "push_too_large", message: $0))
                } ?? .success(event)
            }
        }
        let events = checked.compactMap { try? $0.get() }
        let outcomes = events.isEmpty ? [] : await put(events)
        guard let outcomes else { return Self.unavailable }
        return Self.answer(200, PublishAPI.answer(to: checked, outcomes: outcomes))
    }

    /// Puts events on the bus; nil (logged) when EventBridge could not be reached.
    private func put(_ events: [Event]) async -> [Result<PublishReceipt, EventEnvelope.EntryError>]? {
        do {
            return try await bus.put(events).map { $0.map { PublishReceipt(eventID: $0, seq: nil) } }
        } catch {
            logger.error(
                "Publish failed: EventBridge did not take the events",
                metadata: ["error": "\(error)", "error.type": "\(FanOutHandler.type(of: error))"]
            )
            return nil
        }
    }

    private static let unavailable = refusal(
        .init(status: 503, reason: "broker_unavailable", message: "EventBridge cannot accept events right now; nothing was published")
    )

    static func refusal(_ refusal: PublishAPI.Refusal) -> JSONValue {
        answer(refusal.status, ["message": .string(refusal.message), "reason": .string(refusal.reason)])
    }

    static func answer(_ status: Int, _ body: JSONValue) -> JSONValue {
        [
            "statusCode": .int(status), "headers": ["Content-Type": "application/json; charset=utf-8"],
            "body": .string(String(decoding: JSON.encode(body), as: UTF8.self)),
        ]
    }
}
