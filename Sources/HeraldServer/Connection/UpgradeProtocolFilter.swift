import NIOCore
import NIOHTTP1

/// Drops an `Upgrade` header that asks for anything but `websocket` (e.g. curl's `h2c`), so that
/// the request is served as plain HTTP/1.1 — which RFC 9110 §7.8 allows a server to do.
///
/// Without it, NIO's typed upgrade handler finds no upgrader for such a request and hands the
/// rest of the pipeline the request's end without its head: the request would go unanswered.
/// Only a connection's first request can be upgraded, so the filter leaves the pipeline after
/// that request's head (before an upgrade hands it raw bytes).
final class UpgradeProtocolFilter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        defer { context.pipeline.syncOperations.removeHandler(context: context, promise: nil) }
        guard case .head(var head) = unwrapInboundIn(data), head.headers.contains(name: "upgrade") else {
            return context.fireChannelRead(data)
        }
        let protocols = head.headers[canonicalForm: "upgrade"]
        if !protocols.contains(where: { $0.lowercased().hasPrefix("websocket") }) {
            head.headers.remove(name: "upgrade")
        }
        context.fireChannelRead(wrapInboundOut(.head(head)))
    }
}
