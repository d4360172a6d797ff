import NIOCore

/// Writes pre-encoded WebSocket frames straight to the socket.
///
/// It sits first in the pipeline (next to the socket), so the bytes a fan-out encoded once go
/// out as they are — past NIO's `WebSocketFrameEncoder`, which would add a header buffer per
/// write. Everything else passes through untouched.
final class WireWriter: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    /// Queues one frame's bytes (on the channel's event loop); `flush` sends them.
    func write(_ bytes: ByteBuffer) {
        context?.write(wrapOutboundOut(bytes), promise: nil)
    }

    func flush() {
        context?.flush()
    }

    /// Writes and flushes one frame's bytes (on the channel's event loop).
    func writeAndFlush(_ bytes: ByteBuffer, promise: EventLoopPromise<Void>? = nil) {
        guard let context else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        context.writeAndFlush(wrapOutboundOut(bytes), promise: promise)
    }
}
