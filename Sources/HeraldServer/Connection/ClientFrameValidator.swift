import HeraldCore
import NIOCore
import NIOWebSocket

/// Checks every decoded client frame against `ClientFrameHeader`'s rules (masked, no RSV bit, a
/// defined opcode) before NIOWebSocket's aggregator joins fragments — which drops the mask and
/// the RSV bits — and hands a frame that breaks them to the `ConnectionHandler` as an error, which
/// closes with `1002`. Frames that keep the rules pass unchanged.
final class ClientFrameValidator: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = WebSocketFrame

    /// A frame broke RFC 6455: `reason` is the close to answer it with.
    struct Violation: Error, Equatable {
        let reason: CloseReason
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        let header = ClientFrameHeader(
            opcode: UInt8(webSocketOpcode: frame.opcode),
            reservedBits: (frame.rsv1 ? 4 : 0) | (frame.rsv2 ? 2 : 0) | (frame.rsv3 ? 1 : 0),
            isMasked: frame.maskKey != nil
        )
        if let violation = header.violation {
            context.fireErrorCaught(Violation(reason: violation))
        } else {
            context.fireChannelRead(data)
        }
    }
}
