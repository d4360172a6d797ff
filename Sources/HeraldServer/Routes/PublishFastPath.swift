import HTTPTypes
import HeraldCore
import NIOCore
import NIOHTTPTypes

/// Answers publish requests (PROTOCOL.md §6) on the connection's event loop, in the HTTP pipeline
/// just before Hummingbird's: no task, no hop to another thread, the body gathered as it arrives
/// and the answer written at once, by `PublishRoutes` as on its routes.
///
/// It takes a request only when it is sure to answer it as the route would, and nothing of the
/// connection is still with Hummingbird (answers stay in order): `POST /events` or a shortcut
/// with a decodable, valid id and no query, `Authorization: Bearer` with a valid key, a
/// `Content-Length` within the limit, no `Expect`, `Transfer-Encoding` or `Connection: close`,
/// and a broker that accepts at once (the in-memory one). Every other request — a SigV4
/// signature, a wrong key, a chunked body, another route, a cluster's publish — goes on to
/// Hummingbird unchanged, with every refusal's exact answer.
final class PublishFastPath: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private enum State {
        /// Between requests.
        case idle
        /// Gathering the body of a request it answers.
        case reading(PublishRoutes.Route, body: ByteBuffer, started: ContinuousClock.Instant)
        /// Passing a request on to Hummingbird, to its end.
        case forwarding
    }

    private let routes: PublishRoutes
    private let keys: PublishKeys
    private var state = State.idle
    /// Requests passed on whose response has not been written to its end yet.
    private var withHummingbird = 0

    init(routes: PublishRoutes, keys: PublishKeys) {
        self.routes = routes
        self.keys = keys
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch (unwrapInboundIn(data), state) {
        case (.head(let head), .idle):
            if withHummingbird == 0, let route = takes(head) {
                state = .reading(route, body: context.channel.allocator.buffer(capacity: 256), started: .now)
            } else {
                state = .forwarding
                withHummingbird += 1
                context.fireChannelRead(data)
            }
        case (.body(var part), .reading(let route, var body, let started)):
            state = .idle  // drops the state's reference to the body before it grows
            body.writeBuffer(&part)
            state = .reading(route, body: body, started: started)
        case (.end, .reading(let route, let body, let started)):
            state = .idle
            answer(route, body: body, started: started, context: context)
        case (.end, .forwarding):
            state = .idle
            context.fireChannelRead(data)
        default:
            context.fireChannelRead(data)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data), withHummingbird > 0 { withHummingbird -= 1 }
        context.write(data, promise: promise)
    }

    /// The route of a request this handler answers, or nil to pass it on.
    private func takes(_ head: HTTPRequest) -> PublishRoutes.Route? {
        let fields = head.headerFields
        guard head.method == .post, routes.broker.acceptsAtOnce, let path = head.path, !path.contains("?"),
            fields[.expect] == nil, fields[.transferEncoding] == nil, fields[.connection]?.lowercased() != "close",
            let length = fields[.contentLength].flatMap(Int.init), (0...PublishRoutes.maxBodyBytes).contains(length),
            keys.accepts(authorization: fields[.authorization])
        else { return nil }
        if path == "/events" { return .events }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0].isEmpty, case .success(let id) = PathParameter.decode(parts[2]) else { return nil }
        switch (parts[1], parts[3]) {
        case ("entities", "updates"): return EntityID(id) == nil ? nil : .shortcut(.entityUpdate, id: id)
        case ("users", "notifications"): return UserID(id) == nil ? nil : .shortcut(.userNotification, id: id)
        default: return nil
        }
    }

    private func answer(_ route: PublishRoutes.Route, body: ByteBuffer, started: ContinuousClock.Instant, context: ChannelHandlerContext) {
        let answer = routes.runAtOnce(route, body: body)
        let fields: HTTPFields = [
            .contentType: "application/json; charset=utf-8",
            .contentLength: String(answer.body.readableBytes),
            .date: HTTPDate.now,
            .server: "Herald",
        ]
        context.write(wrapOutboundOut(.head(HTTPResponse(status: answer.status, headerFields: fields))), promise: nil)
        context.write(wrapOutboundOut(.body(answer.body)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        routes.metrics.publishRequestFinished(after: started.duration(to: .now))
    }
}
