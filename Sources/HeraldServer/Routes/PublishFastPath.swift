import HTTPTypes
import HeraldCore
import NIOCore
import NIOHTTPTypes

/// Answers publish requests (PROTOCOL.md §6) on the connection's event loop, in the HTTP pipeline
/// just before Hummingbird's: no task, the body gathered as it arrives and the answer written as
/// soon as the broker gives it, by `PublishRoutes` as on its routes — at once for the in-memory
/// broker, after one hop back to the loop for a cluster's, whose answer comes from the task that
/// committed the transaction.
///
/// It takes a request only when it is sure to answer it as the route would, and nothing of the
/// connection is still with Hummingbird (answers stay in order): `POST /events` or a shortcut
/// with a decodable, valid id and no query, `Authorization: Bearer` with a valid key, a
/// `Content-Length` within the limit, and no `Expect`, `Transfer-Encoding` or `Connection:
/// close`. Every other request — a SigV4 signature, a wrong key, a chunked body, another route —
/// goes on to Hummingbird unchanged, with every refusal's exact answer.
///
/// One request at a time, as Hummingbird does: while an answer is awaited, what the client sent
/// after it — its end of input too — waits here, in order, and the socket is not read (so what
/// waits is at most one read).
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
        /// Waiting for the broker's answer to a request it took.
        case answering
        /// Passing a request on to Hummingbird, to its end.
        case forwarding
    }

    private let routes: PublishRoutes
    private let keys: PublishKeys
    private var state = State.idle
    /// Requests passed on whose response has not been written to its end yet.
    private var withHummingbird = 0
    /// What arrived while an answer was awaited, in order.
    private var held = CircularBuffer<HTTPRequestPart>()
    /// A read of the socket asked for while requests were held: done once they are handled.
    private var readAsked = false
    /// The end of the client's input (a half-closure), come while requests were held: passed on
    /// once they are answered, so Hummingbird does not end the connection before them.
    private var inputEndHeld = false
    /// Parts passed on since the last read completed: Hummingbird's channel takes them at the
    /// next `channelReadComplete`, so held parts passed on later need one of their own.
    private var passedOn = false
    private var context: ChannelHandlerContext?

    init(routes: PublishRoutes, keys: PublishKeys) {
        self.routes = routes
        self.keys = keys
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if isHolding { return held.append(part) }
        handle(part, context: context)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        passedOn = false
        context.fireChannelReadComplete()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed, isHolding {
            inputEndHeld = true
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func read(context: ChannelHandlerContext) {
        guard !isHolding else {
            readAsked = true
            return
        }
        context.read()
    }

    /// True while an answer is awaited or what came meanwhile still waits.
    private var isHolding: Bool {
        if case .answering = state { return true }
        return !held.isEmpty
    }

    private func handle(_ part: HTTPRequestPart, context: ChannelHandlerContext) {
        switch (part, state) {
        case (.head(let head), .idle):
            if withHummingbird == 0, let route = takes(head) {
                state = .reading(route, body: context.channel.allocator.buffer(capacity: 256), started: .now)
            } else {
                state = .forwarding
                withHummingbird += 1
                passOn(part, context)
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
            passOn(part, context)
        default:
            passOn(part, context)
        }
    }

    private func passOn(_ part: HTTPRequestPart, _ context: ChannelHandlerContext) {
        passedOn = true
        context.fireChannelRead(wrapInboundOut(part))
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data), withHummingbird > 0 { withHummingbird -= 1 }
        context.write(data, promise: promise)
    }

    /// The route of a request this handler answers, or nil to pass it on.
    private func takes(_ head: HTTPRequest) -> PublishRoutes.Route? {
        let fields = head.headerFields
        guard head.method == .post, let path = head.path, !path.contains("?"),
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
        state = .answering
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        routes.run(route, body: body) { status, body in
            if handler.eventLoop.inEventLoop {
                handler.value.reply(status, body, started: started)
            } else {
                handler.eventLoop.execute { handler.value.reply(status, body, started: started) }
            }
        }
    }

    /// Writes the answer, then handles what came meanwhile (and reads on, if it was asked to).
    private func reply(_ status: HTTPResponse.Status, _ body: ByteBuffer, started: ContinuousClock.Instant) {
        state = .idle
        guard let context else { return }
        let fields: HTTPFields = [
            .contentType: "application/json; charset=utf-8",
            .contentLength: String(body.readableBytes),
            .date: HTTPDate.now,
            .server: "Herald",
        ]
        context.write(wrapOutboundOut(.head(HTTPResponse(status: status, headerFields: fields))), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        routes.metrics.publishRequestFinished(after: started.duration(to: .now))
        while !held.isEmpty, !isAnswering { handle(held.removeFirst(), context: context) }
        if passedOn {
            passedOn = false
            context.fireChannelReadComplete()
        }
        guard !isHolding else { return }
        if inputEndHeld {
            inputEndHeld = false
            context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        } else if readAsked {
            readAsked = false
            context.read()
        }
    }

    private var isAnswering: Bool {
        if case .answering = state { return true }
        return false
    }
}
