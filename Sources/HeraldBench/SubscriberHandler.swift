import NIOCore

/// One benchmark WebSocket: writes the upgrade request itself, subscribes (Herald), then reads
/// the server's frames straight from the receive buffer, records each delivery's latency on its
/// loop, answers pings, and reports a close before the end. In a run with a storm it also keeps
/// its client's `StormClient` (the `seq`s and `epoch` it saw, its loss); a reconnect (`resuming`)
/// subscribes with `since` and `epoch` and hands every push to that record instead.
final class SubscriberHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum State {
        case connecting, upgrading, subscribing, ready, closing, closed

        var isHandshaking: Bool {
            switch self {
            case .connecting, .upgrading, .subscribing: true
            default: false
            }
        }
    }

    /// Response headers larger than this are not a WebSocket upgrade answer.
    private static let maxResponseHeadBytes = 16_384
    private static let headEnd: [UInt8] = Array("\r\n\r\n".utf8)
    private static let subscribedMarker: [UInt8] = Array(#""subscribed""#.utf8)
    private static let errorMarker: [UInt8] = Array(#""error""#.utf8)

    private let index: Int
    private let entity: Int
    private let connector: Connector
    private let loop: LoopState
    private let startedAt: UInt64
    /// The storm's record of this client (nil in a run without a storm).
    private let client: StormClient?
    /// The storm's second connection, to the fresh node.
    private let resuming: Bool
    private var state = State.connecting
    private var channel: (any Channel)?
    /// Bytes read but not yet parsed: a partial response head or frame.
    private var pending: ByteBuffer?
    /// A fragmented message being put together.
    private var fragments: ByteBuffer?
    private var handshakeTimeout: Scheduled<Void>?

    init(index: Int, entity: Int, connector: Connector, loop: LoopState, startedAt: UInt64, client: StormClient? = nil, resuming: Bool = false) {
        self.index = index
        self.entity = entity
        self.connector = connector
        self.loop = loop
        self.startedAt = startedAt
        self.client = client
        self.resuming = resuming
    }

    private var run: BenchRun { connector.run }

    func handlerAdded(context: ChannelHandlerContext) {
        channel = context.channel
        loop.handlers.append(self)
    }

    func channelActive(context: ChannelHandlerContext) {
        state = .upgrading
        let elapsed = NIODeadline.now().uptimeNanoseconds &- startedAt
        let remaining = Int64(run.configuration.handshakeTimeout.nanoseconds) - Int64(elapsed)
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        handshakeTimeout = context.eventLoop.scheduleTask(in: .nanoseconds(max(remaining, 0))) {
            handler.value.handshakeTimedOut()
        }
        var request = context.channel.allocator.buffer(capacity: 512)
        let endpoint = connector.endpoint
        request.writeString("GET \(run.upgradeTarget(index: index, entity: entity, at: endpoint)) HTTP/1.1\r\n")
        request.writeString("Host: \(endpoint.hostHeader)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n")
        request.writeString("Sec-WebSocket-Key: \(Self.base64(loop.random.next(), loop.random.next()))\r\nSec-WebSocket-Version: 13\r\n\r\n")
        context.writeAndFlush(wrapOutboundOut(request), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        var buffer: ByteBuffer
        if var saved = pending {
            pending = nil
            saved.writeBuffer(&incoming)
            buffer = saved
        } else {
            buffer = incoming
        }
        if state == .upgrading {
            guard readResponseHead(context: context, from: &buffer) else { return }
        }
        let now = NIODeadline.now().uptimeNanoseconds
        do {
            while state != .closed, let frame = try WebSocketFrameParser.next(from: &buffer) {
                handle(frame, context: context, now: now)
            }
        } catch {
            fail("protocol error", context: context, earlyCloseCode: 1002)
            return
        }
        if buffer.readableBytes > 0, state != .closed {
            // Keep the partial frame in a buffer of our own so NIO can reuse its receive buffer.
            var copy = context.channel.allocator.buffer(capacity: Swift.max(buffer.readableBytes, 256))
            copy.writeBuffer(&buffer)
            pending = copy
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        switch state {
        case .connecting, .upgrading, .subscribing:
            finishHandshake(ready: false, reason: "closed during handshake")
        case .ready:
            recordLoss(code: 1006)
            run.subscriberLeft(entity: entity)
        case .closing, .closed:
            break
        }
        state = .closed
        handshakeTimeout?.cancel()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if state.isHandshaking {
            fail("socket error", context: context, earlyCloseCode: nil)
        } else if state == .ready {
            // channelInactive follows and counts the early close.
            context.close(promise: nil)
        }
    }

    /// Closes this connection at the end of the run; nil when it is already closed.
    func closeForShutdown() -> EventLoopFuture<Void>? {
        guard let channel, state != .closed else { return nil }
        switch state {
        case .ready: run.subscriberLeft(entity: entity)
        // A connect still in progress is reported by the connector when its connect fails.
        case .upgrading, .subscribing: finishHandshake(ready: false, reason: "run ended during handshake")
        case .connecting, .closing, .closed: break
        }
        let wasUpgraded = state == .ready || state == .subscribing
        state = .closing
        handshakeTimeout?.cancel()
        if wasUpgraded {
            var frame = channel.allocator.buffer(capacity: 8)
            WebSocketFrameParser.writeClientFrame(
                opcode: .close,
                payload: WebSocketFrameParser.closePayload(code: 1000),
                maskKey: maskKey(),
                into: &frame
            )
            channel.writeAndFlush(frame, promise: nil)
        }
        return channel.close()
    }

    // MARK: - Handshake

    /// Consumes the HTTP response head; false while it is incomplete or when the upgrade failed.
    private func readResponseHead(context: ChannelHandlerContext, from buffer: inout ByteBuffer) -> Bool {
        guard let end = buffer.withUnsafeReadableBytes({ Self.firstIndex(of: Self.headEnd, in: $0) }) else {
            if buffer.readableBytes > Self.maxResponseHeadBytes {
                fail("bad upgrade response", context: context, earlyCloseCode: nil)
            } else {
                pending = buffer
            }
            return false
        }
        let statusLine = buffer.getString(at: buffer.readerIndex, length: Swift.min(end, 32)) ?? ""
        buffer.moveReaderIndex(forwardBy: end + Self.headEnd.count)
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        let status = parts.count >= 2 ? Int(parts[1]) : nil
        guard status == 101 else {
            fail(status.map { "http \($0)" } ?? "bad upgrade response", context: context, earlyCloseCode: nil)
            return false
        }
        if !resuming { loop.recordUpgrade(micros: (NIODeadline.now().uptimeNanoseconds &- startedAt) / 1000) }
        switch run.configuration.target {
        case .herald:
            state = .subscribing
            var message = #"{"action":"subscribe","entityId":"\#(BenchConfiguration.entityID(entity))""#
            if resuming, let client, let since = client.since {
                message += #","since":\#(since)"#
                if let epoch = client.epoch { message += #","epoch":"\#(epoch)""# }
            }
            message += "}"
            var frame = context.channel.allocator.buffer(capacity: message.utf8.count + 8)
            WebSocketFrameParser.writeClientFrame(opcode: .text, payload: message.utf8, maskKey: maskKey(), into: &frame)
            context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
        case .nchan:
            becomeReady()
        }
        return true
    }

    private func becomeReady(ack: (recovered: Bool?, epoch: String?) = (nil, nil), now readAt: UInt64? = nil) {
        state = .ready
        run.subscriberJoined(entity: entity)
        if let client {
            // The read's time, so that events in the same read are not earlier than the ack.
            let now = readAt ?? NIODeadline.now().uptimeNanoseconds
            if resuming {
                client.resumeAcknowledged(recovered: ack.recovered, epoch: ack.epoch, handshakeMicros: (now &- startedAt) / 1000, now: now)
            } else {
                client.acknowledged(epoch: ack.epoch)
            }
        }
        finishHandshake(ready: true, reason: nil)
    }

    private func handshakeTimedOut() {
        guard state.isHandshaking, let channel else { return }
        finishHandshake(ready: false, reason: "handshake timeout")
        state = .closing
        channel.close(promise: nil)
    }

    /// Reports the outcome once: the handshake time on success, the reason otherwise.
    private func finishHandshake(ready: Bool, reason: String?) {
        handshakeTimeout?.cancel()
        handshakeTimeout = nil
        if resuming {
            // A successful reconnect is reported by the ack (Herald) or becomeReady (Nchan).
            if !ready { client?.failed(reason ?? "failed") }
        } else if ready {
            loop.recordHandshake(micros: (NIODeadline.now().uptimeNanoseconds &- startedAt) / 1000)
        } else {
            loop.recordFailure(reason ?? "failed")
        }
        connector.finished(ready: ready)
    }

    /// A ready connection ended: the storm's loss (its record), or an early close.
    private func recordLoss(code: Int) {
        if let client, !resuming {
            client.lost(code: code, now: NIODeadline.now().uptimeNanoseconds)
        } else {
            loop.recordEarlyClose(code: code)
            client?.failed("closed by the fresh node (\(code))")
        }
    }

    /// Gives up on this connection: a handshake failure, or a protocol error after it.
    private func fail(_ reason: String, context: ChannelHandlerContext, earlyCloseCode: Int?) {
        switch state {
        case .connecting, .upgrading, .subscribing:
            finishHandshake(ready: false, reason: reason)
        case .ready:
            recordLoss(code: earlyCloseCode ?? 1006)
            run.subscriberLeft(entity: entity)
        case .closing, .closed:
            break
        }
        state = .closing
        context.close(promise: nil)
    }

    // MARK: - Frames

    private func handle(_ frame: ServerFrame, context: ChannelHandlerContext, now: UInt64) {
        switch frame.opcode {
        case .text, .binary:
            if frame.fin {
                handleMessage(frame.payload, context: context, now: now)
            } else {
                fragments = frame.payload
            }
        case .continuation:
            guard var assembled = fragments else { return }
            var payload = frame.payload
            assembled.writeBuffer(&payload)
            if frame.fin {
                fragments = nil
                handleMessage(assembled, context: context, now: now)
            } else {
                fragments = assembled
            }
        case .ping:
            var pong = context.channel.allocator.buffer(capacity: frame.payload.readableBytes + 8)
            WebSocketFrameParser.writeClientFrame(opcode: .pong, payload: frame.payload.readableBytesView, maskKey: maskKey(), into: &pong)
            context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
        case .pong:
            break
        case .close:
            let code = WebSocketFrameParser.closeCode(frame.payload).map(Int.init) ?? 1005
            if state != .closing {
                var reply = context.channel.allocator.buffer(capacity: 8)
                WebSocketFrameParser.writeClientFrame(
                    opcode: .close,
                    payload: WebSocketFrameParser.closePayload(code: 1000),
                    maskKey: maskKey(),
                    into: &reply
                )
                context.writeAndFlush(wrapOutboundOut(reply), promise: nil)
            }
            fail("closed by server (\(code))", context: context, earlyCloseCode: code)
        }
    }

    private func handleMessage(_ payload: ByteBuffer, context: ChannelHandlerContext, now: UInt64) {
        switch state {
        case .ready:
            if let client {
                let seq = payload.withUnsafeReadableBytes { StormClient.seq(in: $0) }
                if resuming {
                    if let seq { client.receivedAfterReconnect(seq: seq, now: now) } else { loop.otherFrames += 1 }
                    return
                }
                if let seq { client.receivedLive(seq: seq) }
            }
            if let (sentAt, index) = payload.withUnsafeReadableBytes({ BenchMessage.parse($0) }) {
                // The storm's own publishes are not the publish phase's.
                if index >= BatchPublisher.indexBase { return }
                loop.recordDelivery(index: index, latencyMicros: now > sentAt ? (now - sentAt) / 1000 : 0)
                run.ledger?.delivered(index: index)
            } else {
                loop.otherFrames += 1
            }
        case .subscribing:
            let verdict = payload.withUnsafeReadableBytes { bytes in
                (Self.firstIndex(of: Self.subscribedMarker, in: bytes) != nil, Self.firstIndex(of: Self.errorMarker, in: bytes) != nil)
            }
            if verdict.0 {
                becomeReady(ack: client == nil ? (nil, nil) : payload.withUnsafeReadableBytes { StormClient.ack(in: $0) }, now: now)
            } else if verdict.1 {
                fail("subscribe refused", context: context, earlyCloseCode: nil)
            }
        case .connecting, .upgrading, .closing, .closed:
            break
        }
    }

    // MARK: - Helpers

    /// Position of `needle` in `haystack`.
    static func firstIndex(of needle: [UInt8], in haystack: UnsafeRawBufferPointer) -> Int? {
        guard let first = needle.first, haystack.count >= needle.count else { return nil }
        var position = 0
        let last = haystack.count - needle.count
        outer: while position <= last {
            if haystack[position] == first {
                for offset in 1..<needle.count where haystack[position + offset] != needle[offset] {
                    position += 1
                    continue outer
                }
                return position
            }
            position += 1
        }
        return nil
    }

    private func maskKey() -> UInt32 { UInt32(truncatingIfNeeded: loop.random.next()) }

    /// A `Sec-WebSocket-Key`: the 16 bytes of two words, base64 (24 characters).
    static func base64(_ high: UInt64, _ low: UInt64) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var bytes: [UInt8] = []
        for word in [high, low] {
            for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: word >> UInt64(shift))) }
        }
        var output: [UInt8] = []
        var index = 0
        while index + 3 <= bytes.count {
            let chunk = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            for shift in [18, 12, 6, 0] { output.append(alphabet[Int((chunk >> UInt32(shift)) & 0x3F)]) }
            index += 3
        }
        // 16 bytes: one byte left over → two characters and "==".
        let last = UInt32(bytes[15]) << 16
        output += [alphabet[Int((last >> 18) & 0x3F)], alphabet[Int((last >> 12) & 0x3F)], UInt8(ascii: "="), UInt8(ascii: "=")]
        return String(decoding: output, as: UTF8.self)
    }
}

extension Duration {
    /// The whole duration in nanoseconds (saturating).
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : product &+ attoseconds / 1_000_000_000
    }
}
