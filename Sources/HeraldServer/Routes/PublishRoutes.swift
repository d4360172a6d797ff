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
        group.post("events") { request, context in await timed { await publishEvents(request) } }
        group.post("entities/:entityId/updates") { request, context in
            await timed { await publishShortcut(request, .entityUpdate, id: PathParameter.entityID("entityId", in: context).map(\.rawValue)) }
        }
        group.post("users/:userId/notifications") { request, context in
            await timed { await publishShortcut(request, .userNotification, id: PathParameter.userID("userId", in: context).map(\.rawValue)) }
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
        switch PublishAPI.entries(in: body.readableBytesView) {
        case .failure(let refusal): return ConnectRejection(refusal).response
        case .success(let decoded): entries = decoded
        }
        // The good entries go to the broker in one batch (all or none); the bad ones are answered in place.
        let events = entries.compactMap { try? $0.get() }
        let receipts = events.isEmpty ? [] : await publish(events)
        guard let receipts, receipts.count == events.count else { return Self.brokerUnavailable.response }
        let answer = PublishAPI.answer(to: entries, outcomes: receipts.map { .success($0) })
        return JSONResponse.make(status: .ok, body: ByteBuffer(bytes: JSON.encode(answer)))
    }

    /// A shortcut: `id` is the path's id, decoded and checked (refused before the body is read).
    private func publishShortcut(_ request: Request, _ shortcut: PublishAPI.Shortcut, id pathID: Result<String, ConnectRejection>) async -> Response {
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
        switch PublishAPI.event(shortcut, id: id, body: body.readableBytesView) {
        case .failure(let refusal):
            return ConnectRejection(refusal).response
        case .success(let event):
            guard let receipt = await publish([event])?.first else { return Self.brokerUnavailable.response }
            return JSONResponse.make(status: .accepted, body: ByteBuffer(bytes: JSON.encode(PublishAPI.answer(to: receipt))))
        }
    }

    private static let brokerUnavailable = ConnectRejection(
        .serviceUnavailable, reason: "broker_unavailable", message: "the broker cannot accept events right now; nothing was published"
    )
}
