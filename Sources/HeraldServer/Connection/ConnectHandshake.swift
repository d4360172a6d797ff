import Crypto
import Foundation
import HTTPTypes
import NIOCore
import NIOWebSocket

/// The first protocol handler of every connection (after TLS): reads its first request's head
/// and, when that is a plain WebSocket upgrade (`UpgradeRequestHead`), settles it right here on
/// the event loop — admission (`ConnectGate`), then either the WebSocket handlers and the `101`
/// (written after them, so the connection is in the hub before the client can see it open), or
/// the refusal with its status and `{"message","reason"}` body, after which the connection
/// closes as every refusal does (`ConnectionDeadline`'s lingering close). No HTTP pipeline is
/// built or torn down for it.
///
/// Any other first request (another route, an odd head, one NIO must judge) goes to the HTTP
/// pipeline that `http` installs behind this handler — NIO's parser and upgrade handler, then
/// Hummingbird — with the bytes read so far, and this handler leaves.
final class ConnectHandshake: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// What the connection became.
    enum Outcome: Sendable {
        /// Settled here: a WebSocket, or a refusal written.
        case settled
        /// Handed to the HTTP pipeline, which reports its own outcome.
        case http
    }

    private enum State {
        /// Reading the head.
        case reading
        /// The head is in; admission waits for a key-set refresh (bytes that arrive are kept).
        case deciding
        /// Refused: what the client still sends is dropped.
        case refused
        /// Upgraded or handed over.
        case done
    }

    private let gate: ConnectGate
    /// The most bytes a head may take before NIO's parser is left to refuse it.
    private let maxHeadBytes: Int
    /// Adds the WebSocket handlers (the frame codec included) behind this one.
    private let webSocket: (any Channel, Admission) throws -> Void
    /// Adds the HTTP pipeline behind this one.
    private let http: (any Channel) throws -> Void
    private let outcome: EventLoopPromise<Outcome>
    private var state = State.reading
    private var buffered: ByteBuffer?
    /// Where the search for the head's end goes on.
    private var searched = 0

    init(
        gate: ConnectGate,
        maxHeadBytes: Int,
        outcome: EventLoopPromise<Outcome>,
        webSocket: @escaping (any Channel, Admission) throws -> Void,
        http: @escaping (any Channel) throws -> Void
    ) {
        self.gate = gate
        self.maxHeadBytes = maxHeadBytes
        self.outcome = outcome
        self.webSocket = webSocket
        self.http = http
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        switch state {
        case .refused, .done:
            return
        case .deciding:
            buffered!.writeBuffer(&bytes)
            return
        case .reading:
            if buffered == nil { buffered = bytes } else { buffered!.writeBuffer(&bytes) }
        }
        guard let end = headEnd() else {
            // No end in sight within the limit: NIO's parser says what is wrong with it.
            if buffered!.readableBytes > maxHeadBytes + 8192 { handOver(context: context) }
            return
        }
        let head = buffered!.withUnsafeReadableBytes { UpgradeRequestHead.parse(UnsafeRawBufferPointer(rebasing: $0[..<(end + 2)])) }
        guard let head, end <= maxHeadBytes + 8192 else { return handOver(context: context) }
        buffered!.moveReaderIndex(forwardBy: end + 4)
        decide(head, context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if state != .done { outcome.fail(ChannelError.ioOnClosedChannel) }
        state = .done
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Before any protocol handler exists (a TLS failure…): nothing can be answered.
        context.close(promise: nil)
    }

    /// The offset of the `\r\n\r\n` that ends the head, if it has arrived.
    private func headEnd() -> Int? {
        let found = buffered!.withUnsafeReadableBytes { bytes -> Int? in
            var index = max(0, searched - 3)
            while index + 3 < bytes.count {
                if bytes[index] == 13, bytes[index + 1] == 10, bytes[index + 2] == 13, bytes[index + 3] == 10 { return index }
                index += 1
            }
            return nil
        }
        searched = buffered!.readableBytes
        return found
    }

    private func decide(_ head: UpgradeRequestHead, context: ChannelHandlerContext) {
        let pipeline = context.pipeline.syncOperations
        pipeline.fireUserInboundEventTriggered(ConnectionProgress.requestHeadReceived)
        pipeline.fireUserInboundEventTriggered(ConnectionProgress.requestBodyReceived)
        state = .deciding
        let channel = context.channel
        let decision = gate.admit(head, sourceIP: channel.remoteAddress?.ipAddress, serverPort: channel.localAddress?.port, on: context.eventLoop)
        decision.assumeIsolated().whenComplete { [self] result in
            guard state == .deciding else { return }
            switch result {
            case .success(.success(let admitted)): upgrade(head, admitted, context: context)
            case .success(.failure(let rejection)): refuse(rejection, context: context)
            case .failure: refuse(.badUpgrade, context: context)
            }
        }
    }

    private func upgrade(_ head: UpgradeRequestHead, _ admitted: Admission, context: ChannelHandlerContext) {
        state = .done
        let channel = context.channel
        do {
            context.pipeline.syncOperations.fireUserInboundEventTriggered(ConnectionProgress.upgraded)
            try webSocket(channel, admitted)
        } catch {
            outcome.fail(error)
            context.close(promise: nil)
            return
        }
        context.writeAndFlush(wrapOutboundOut(Self.switchingProtocols(key: head.webSocketKey, subprotocol: admitted.subprotocol)), promise: nil)
        leave(context: context)
        outcome.succeed(.settled)
    }

    private func refuse(_ rejection: HTTPRefusal, context: ChannelHandlerContext) {
        state = .refused
        buffered = nil
        let written = context.eventLoop.makePromise(of: Void.self)
        let pipeline = context.pipeline
        written.futureResult.assumeIsolated().whenSuccess {
            pipeline.syncOperations.fireUserInboundEventTriggered(ConnectionProgress.responseSent(closing: true))
        }
        context.writeAndFlush(wrapOutboundOut(Self.response(rejection, allocator: context.channel.allocator)), promise: written)
        outcome.succeed(.settled)
    }

    /// The HTTP pipeline takes the connection, and the bytes read so far.
    private func handOver(context: ChannelHandlerContext) {
        state = .done
        do {
            try http(context.channel)
        } catch {
            outcome.fail(error)
            context.close(promise: nil)
            return
        }
        leave(context: context)
        outcome.succeed(.http)
    }

    /// Passes on what was read past the head (frames, or the whole request) and leaves the pipeline.
    private func leave(context: ChannelHandlerContext) {
        if let rest = buffered, rest.readableBytes > 0 {
            buffered = nil
            context.fireChannelRead(wrapInboundOut(rest))
            context.fireChannelReadComplete()
        }
        buffered = nil
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    // MARK: - Responses

    /// RFC 6455 §1.3: the key's SHA-1 with the protocol's GUID, in base64.
    static func acceptValue(key: String) -> String {
        Data(Insecure.SHA1.hash(data: Array((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").utf8))).base64EncodedString()
    }

    static func switchingProtocols(key: String, subprotocol: String?) -> ByteBuffer {
        var response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\nSec-WebSocket-Accept: "
        response += acceptValue(key: key)
        if let subprotocol { response += "\r\nSec-WebSocket-Protocol: " + subprotocol }
        response += "\r\n\r\n"
        return ByteBuffer(string: response)
    }

    /// A refusal: its status, `Connection: close`, and the JSON body.
    static func response(_ rejection: HTTPRefusal, allocator: ByteBufferAllocator) -> ByteBuffer {
        var body = rejection.body
        var response = allocator.buffer(capacity: 160 + body.readableBytes)
        response.writeString("HTTP/1.1 \(rejection.status.code) \(rejection.status.reasonPhrase)\r\n")
        response.writeString("Content-Type: application/json; charset=utf-8\r\nContent-Length: \(body.readableBytes)\r\nConnection: close\r\n\r\n")
        response.writeBuffer(&body)
        return response
    }
}
