import HTTPTypes
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

    /// Which publish a request is.
    enum Route: Sendable, Equatable {
        /// `POST /events`.
        case events
        /// A shortcut; `id` is the path's id, decoded and checked before the body is read.
        case shortcut(PublishAPI.Shortcut, id: String)
    }

    func add(to router: Router<BasicRequestContext>, keys: PublishKeys) {
        let group = router.group().add(middleware: keys.middleware)
        group.post("events") { request, context in try await timed { try await run(.events, request) } }
        group.post("entities/:entityId/updates") { request, context in
            try await timed { try await run(.shortcut(.entityUpdate, id: try PathParameter.entityID("entityId", in: context).rawValue), request) }
        }
        group.post("users/:userId/notifications") { request, context in
            try await timed { try await run(.shortcut(.userNotification, id: try PathParameter.userID("userId", in: context).rawValue), request) }
        }
    }

    /// Runs one publish request, answered or refused, its duration recorded (`herald_publish_duration_seconds`).
    private func timed(_ body: () async throws -> Response) async throws -> Response {
        let clock = ContinuousClock()
        let start = clock.now
        defer { metrics.publishRequestFinished(after: start.duration(to: clock.now)) }
        return try await body()
    }

    /// The body gathered (bounded: `413`), then the same answer as on the event loop.
    private func run(_ route: Route, _ request: Request) async throws(HTTPRefusal) -> Response {
        let body = try await RequestBody.collect(request, limit: Self.maxBodyBytes)
        let (status, answer) = await withCheckedContinuation { continuation in
            run(route, body: body) { continuation.resume(returning: ($0, $1)) }
        }
        return JSONResponse.make(status: status, body: answer)
    }

    /// Answers a publish whose body is read — `PublishFastPath` on the connection's event loop, and
    /// the routes above: its status and JSON body, given to `reply` before this returns for the
    /// in-memory broker, once the database has answered (on the broker's thread) for a cluster's.
    func run(_ route: Route, body: ByteBuffer, then reply: @escaping @Sendable (_ status: HTTPResponse.Status, _ body: ByteBuffer) -> Void) {
        let entries: [Result<Event, EventEnvelope.EntryError>]
        let events: [Event]
        do throws(HTTPRefusal) {
            (entries, events) = try Self.read(route, body: body)
        } catch {
            return reply(error.status, error.body)
        }
        guard !events.isEmpty else {
            let answer = Self.answer(route, entries: entries, receipts: [])
            return reply(answer.status, answer.body)
        }
        broker.publish(events) { result in
            do throws(HTTPRefusal) {
                let answer = Self.answer(route, entries: entries, receipts: try accepted(result, events))
                reply(answer.status, answer.body)
            } catch {
                reply(error.status, error.body)
            }
        }
    }

    /// A body's entries, each an event or why it is refused, and the good ones in order; or the refusal of the whole body.
    private static func read(
        _ route: Route,
        body: ByteBuffer
    ) throws(HTTPRefusal) -> (entries: [Result<Event, EventEnvelope.EntryError>], events: [Event]) {
        let entries: [Result<Event, EventEnvelope.EntryError>]
        switch route {
        case .events:
            switch PublishAPI.entries(in: body.readableBytesView) {
            case .failure(let refusal): throw HTTPRefusal(refusal)
            case .success(let decoded): entries = decoded
            }
        case .shortcut(let shortcut, let id):
            switch PublishAPI.event(shortcut, id: id, body: body.readableBytesView) {
            case .failure(let refusal): throw HTTPRefusal(refusal)
            case .success(let event): entries = [.success(event)]
            }
        }
        // The good entries go to the broker in one batch (all or none); the bad ones are answered in place.
        return (entries, entries.compactMap { try? $0.get() })
    }

    /// `POST /events`'s `200` with one result per entry; a shortcut's `202 {"eventId","seq"}`,
    /// written as bytes (the keys in the order `JSON.encode` sorts them).
    private static func answer(
        _ route: Route,
        entries: [Result<Event, EventEnvelope.EntryError>],
        receipts: [PublishReceipt]
    ) -> (status: HTTPResponse.Status, body: ByteBuffer) {
        switch route {
        case .events:
            return (.ok, ByteBuffer(bytes: JSON.encode(PublishAPI.answer(to: entries, outcomes: receipts.map { .success($0) }))))
        case .shortcut:
            var body = JSONObjectWriter(capacity: 80)
            body.add("eventId", receipts[0].eventID)
            if let seq = receipts[0].seq { body.add("seq", seq) }
            return (.accepted, body.finish())
        }
    }

    /// The receipts of the broker's answer, each event counted; or the refusal it earns.
    private func accepted(_ result: Result<[PublishReceipt], BrokerError>, _ events: [Event]) throws(HTTPRefusal) -> [PublishReceipt] {
        switch result {
        case .failure(let error):
            throw refused(error)
        case .success(let receipts):
            guard receipts.count == events.count else { throw Self.brokerUnavailable }
            for event in events { metrics.published(event) }
            return receipts
        }
    }

    private func refused(_ error: any Error) -> HTTPRefusal {
        logger.error("Publish failed: the broker did not accept the event", metadata: ["error": "\(error)"])
        return Self.brokerUnavailable
    }

    private static let brokerUnavailable = HTTPRefusal(
        .serviceUnavailable,
        reason: "broker_unavailable",
        message: "the broker cannot accept events right now; nothing was published"
    )
}
