import NIOCore
import NIOHTTP1

/// Sits right behind the HTTP decoder and tells the `ConnectionDeadlineHandler` how each exchange
/// goes (`ConnectionProgress`): a request's head and end as they are decoded, a response once its
/// end is written, and whether that response said `Connection: close` — after which the
/// connection is closed (RFC 9112 §9.6), whoever wrote it (a route, a refused upgrade, or NIO's
/// `400` for a request it cannot parse). Removed once an upgrade is admitted, before NIO hands the
/// pipeline the bytes that follow the request (frames).
final class HTTPExchangeReporter: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// The response being written says `Connection: close`.
    private var closing = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head: context.pipeline.syncOperations.fireUserInboundEventTriggered(ConnectionProgress.requestHeadReceived)
        case .end: context.pipeline.syncOperations.fireUserInboundEventTriggered(ConnectionProgress.requestBodyReceived)
        case .body: break
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head) where head.status.code >= 200:
            closing = head.headers[canonicalForm: "connection"].contains { $0.lowercased() == "close" }
            context.write(data, promise: promise)
        case .head, .body:
            context.write(data, promise: promise)
        case .end:
            let written = promise ?? context.eventLoop.makePromise()
            let progress = ConnectionProgress.responseSent(closing: closing)
            closing = false
            let pipeline = context.pipeline
            written.futureResult.assumeIsolated().whenSuccess {
                pipeline.syncOperations.fireUserInboundEventTriggered(progress)
            }
            context.write(data, promise: written)
        }
    }
}
