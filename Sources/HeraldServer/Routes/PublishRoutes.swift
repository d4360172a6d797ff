import HeraldCore
import HeraldTokens
import Hummingbird
import Logging
import NIOCore

/// The publish API of PROTOCOL.md §6: `POST /events` in every AWS quick-start shape, and the two shortcuts.
struct PublishRoutes: Sendable {
    /// The largest accepted body (EventBridge's PutEvents limit); 262,144 itself is accepted.
    static let maxBodyBytes = PublishAPI.maxBodyBytes

    let broker: any Broker
    let metrics: HeraldMetrics
    let logger: Logger

    func add(to router: Router<BasicRequestContext>, keys: PublishKeys) {
        let group = router.group().add(middleware: keys.middleware)
        group.post("events") { request, context in try await timed { try await publishEvents(request) } }
        group.post("entities/:entityId/updates") { request, context in
            try await timed { try await publishShortcut(request, .entityUpdate, id: try PathParameter.entityID("entityId", in: context).rawValue) }
        }
        group.post("users/:userId/notifications") { request, context in
            try await timed { try await publishShortcut(request, .userNotification, id: try PathParameter.userID("userId", in: context).rawValue) }
        }
    }

    /// Runs one publish request, answered or refused, its duration recorded (`herald_publish_duration_seconds`).
    private func timed(_ body: () async throws -> Response) async throws -> Response {
        let clock = ContinuousClock()
        let start = clock.now
        defer { metrics.publishRequestFinished(after: start.duration(to: clock.now)) }
        return try await body()
    }

    /// Hands events to the broker, all or none; `503 broker_unavailable` (logged) when it could not take them.
    private func publish(_ events: [Event]) async throws(HTTPRefusal) -> [PublishReceipt] {
        let receipts: [PublishReceipt]
        do {
            receipts = try await broker.publish(events)
        } catch {
            logger.error("Publish failed: the broker did not accept the event", metadata: ["error": "\(error)"])
            throw Self.brokerUnavailable
        }
        guard receipts.count == events.count else { throw Self.brokerUnavailable }
        for event in events { metrics.published(event) }
        return receipts
    }

    private func publishEvents(_ request: Request) async throws(HTTPRefusal) -> Response {
        let body = try await RequestBody.collect(request, limit: Self.maxBodyBytes)
        let entries: [Result<Event, EventEnvelope.EntryError>]
        switch PublishAPI.entries(in: body.readableBytesView) {
        case .failure(let refusal): throw HTTPRefusal(refusal)
        case .success(let decoded): entries = decoded
        }
        // The good entries go to the broker in one batch (all or none); the bad ones are answered in place.
        let events = entries.compactMap { try? $0.get() }
        let receipts = events.isEmpty ? [] : try await publish(events)
        let answer = PublishAPI.answer(to: entries, outcomes: receipts.map { .success($0) })
        return JSONResponse.make(status: .ok, body: ByteBuffer(bytes: JSON.encode(answer)))
    }

    /// A shortcut: `id` is the path's id, decoded and checked before the body is read.
    private func publishShortcut(_ request: Request, _ shortcut: PublishAPI.Shortcut, id: String) async throws(HTTPRefusal) -> Response {
        let body = try await RequestBody.collect(request, limit: Self.maxBodyBytes)
        switch PublishAPI.event(shortcut, id: id, body: body.readableBytesView) {
        case .failure(let refusal):
            throw HTTPRefusal(refusal)
        case .success(let event):
            let receipts = try await publish([event])
            return JSONResponse.make(status: .accepted, body: ByteBuffer(bytes: JSON.encode(PublishAPI.answer(to: receipts[0]))))
        }
    }

    private static let brokerUnavailable = HTTPRefusal(
        .serviceUnavailable,
        reason: "broker_unavailable",
        message: "the broker cannot accept events right now; nothing was published"
    )
}
