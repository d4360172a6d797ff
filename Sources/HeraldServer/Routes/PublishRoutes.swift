import HeraldCore
import HeraldTokens
import Hummingbird
import Logging
import NIOCore

/// The publish API of PROTOCOL.md §6: `POST /events` in every AWS quick-start shape, and the two shortcuts.
struct PublishRoutes: Sendable {
    /// The largest accepted body (EventBridge's PutEvents limit); 262,144 itself is accepted.
    static let maxBodyBytes = 262_144

    let broker: any Broker
    let metrics: HeraldMetrics
    let logger: Logger

    func add(to router: Router<BasicRequestContext>, keys: PublishKeys) {
        let group = router.group().add(middleware: keys.middleware)
        group.post("events") { request, context in await timed { await publishEvents(request) } }
        group.post("entities/:entityId/updates") { request, context in
            await timed {
                await publishShortcut(request, id: PathParameter.entityID("entityId", in: context).map(\.rawValue)) { id, body in
                    var detail = body
                    detail["entityId"] = .string(id)
                    return EventEnvelope.entityUpdate(from: detail).map(Event.entityUpdated)
                }
            }
        }
        group.post("users/:userId/notifications") { request, context in
            await timed {
                await publishShortcut(request, id: PathParameter.userID("userId", in: context).map(\.rawValue)) { id, body in
                    var detail = body
                    detail["userId"] = .string(id)
                    return EventEnvelope.userNotification(from: detail).map(Event.userNotification)
                }
            }
        }
    }

    /// Runs one publish request, its duration recorded (`herald_publish_duration_seconds`).
    private func timed(_ body: () async -> Response) async -> Response {
        let clock = ContinuousClock()
        let start = clock.now
        let response = await body()
        metrics.publishRequestFinished(after: start.duration(to: clock.now))
        return response
    }

    /// Hands events to the broker, all or none; nil (logged) when the broker could not take them.
    private func publish(_ events: [Event]) async -> [PublishReceipt]? {
        do {
            let receipts = try await broker.publish(events)
            for event in events { metrics.published(event) }
            return receipts
        } catch {
            logger.error("Publish failed: the broker did not accept the event", metadata: ["error": "\(error)"])
            return nil
        }
    }

    private func publishEvents(_ request: Request) async -> Response {
        let body: ByteBuffer
        switch await RequestBody.collect(request, limit: Self.maxBodyBytes) {
        case .failure(let rejection): return rejection.closingResponse
        case .success(let collected): body = collected
        }
        let entries: [Result<Event, EventEnvelope.EntryError>]
        switch EventEnvelope.decode(body.readableBytesView) {
        case .failure(let error): return ConnectRejection(.badRequest, reason: "invalid_body", message: error.message).response
        case .success(let decoded): entries = decoded
        }
        // The good entries go to the broker in one batch (all or none); the bad ones are answered in place.
        let events = entries.compactMap { try? $0.get() }
        let receipts = events.isEmpty ? [] : await publish(events)
        guard let receipts, receipts.count == events.count else { return Self.brokerUnavailable.response }
        var results: [PublishEntryResult] = []
        var published = receipts.makeIterator()
        for entry in entries {
            if case .failure(let error) = entry {
                results.append(PublishEntryResult(errorCode: error.code, errorMessage: error.message))
            } else if let receipt = published.next() {  // one receipt per good entry, checked above
                results.append(PublishEntryResult(eventId: receipt.eventID, seq: receipt.seq))
            }
        }
        let failed = results.count { $0.errorCode != nil }
        return JSONResponse.make(
            status: .ok,
            body: ByteBuffer(bytes: JSON.encode(PublishResponse(failedEntryCount: failed, entries: results)))
        )
    }

    /// A shortcut: `id` is the path's id, decoded and checked (refused before the body is read).
    private func publishShortcut(
        _ request: Request,
        id pathID: Result<String, ConnectRejection>,
        event: (String, [String: JSONValue]) -> Result<Event, EventEnvelope.EntryError>
    ) async -> Response {
        let id: String
        switch pathID {
        case .failure(let rejection): return rejection.closingResponse
        case .success(let decoded): id = decoded
        }
        let body: ByteBuffer
        switch await RequestBody.collect(request, limit: Self.maxBodyBytes) {
        case .failure(let rejection): return rejection.closingResponse
        case .success(let collected): body = collected
        }
        guard case .object(let fields)? = JSON.parse(body.readableBytesView) else {
            return ConnectRejection(.badRequest, reason: "invalid_body", message: "the body must be a JSON object").response
        }
        guard case .string? = fields["message"] else {
            return ConnectRejection(.badRequest, reason: "invalid_body", message: "\"message\" is required and must be a string")
                .response
        }
        switch event(id, fields) {
        case .failure(let error):
            return ConnectRejection(.badRequest, reason: error.code, message: error.message).response
        case .success(let event):
            guard let receipt = await publish([event])?.first else { return Self.brokerUnavailable.response }
            var response = JSONObjectWriterBody()
            response.add("eventId", receipt.eventID)
            response.add("seq", ifPresent: receipt.seq)
            return response.response(status: .accepted)
        }
    }

    private static let brokerUnavailable = ConnectRejection(
        .serviceUnavailable, reason: "broker_unavailable", message: "the broker cannot accept events right now; nothing was published"
    )
}

/// The `POST /events` answer, in the PutEvents style.
private struct PublishResponse: Encodable {
    var failedEntryCount: Int
    var entries: [PublishEntryResult]
}

/// One entry's outcome: an event id (and `seq`), or an error.
private struct PublishEntryResult: Encodable {
    var eventId: String?
    var seq: Int?
    var errorCode: String?
    var errorMessage: String?
}
