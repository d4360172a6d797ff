import NIOCore
import NIOHTTP1
import NIOPosix

/// Who sends publishes on `PublishConnection`s and hears how each went (on their event loop).
protocol PublishConnectionOwner: AnyObject {
    /// The request of publishes `indices` (one, or a `POST /events` batch) was answered with
    /// `status`; `seq` is the first in Herald's answer, if any.
    func answered(_ connection: PublishConnection, indices: [Int], status: Int, seq: Int?)
    /// The request of publishes `indices` got no answer.
    func failedTransport(_ connection: PublishConnection, indices: [Int])
}

/// One keep-alive HTTP/1.1 connection of the publisher, one request at a time; it (re)connects
/// when needed, since servers close keep-alive connections after a number of requests.
final class PublishConnection {
    private let publisher: any PublishConnectionOwner
    private let run: BenchRun
    private let endpoint: BenchEndpoint
    private let eventLoop: any EventLoop
    private var channel: (any Channel)?
    private var queued: [(index: Int, entity: Int)]?
    private var current: (indices: [Int], timeout: Scheduled<Void>)?
    private var status = 0
    /// The start of the answer's body (enough for Herald's `"seq"`).
    private var body: ByteBuffer?
    private var keepAlive = true
    private var closed = false

    init(publisher: any PublishConnectionOwner, run: BenchRun, endpoint: BenchEndpoint, eventLoop: any EventLoop) {
        self.publisher = publisher
        self.run = run
        self.endpoint = endpoint
        self.eventLoop = eventLoop
    }

    /// Sends publishes `events` (one, or a `POST /events` batch) in one request, connecting first if needed.
    func send(_ events: [(index: Int, entity: Int)]) {
        if let channel, channel.isActive {
            write(events, on: channel)
        } else {
            queued = events
            connect()
        }
    }

    func close() {
        closed = true
        channel?.close(promise: nil)
        channel = nil
    }

    // MARK: - Called by PublishResponseHandler

    func responseHead(_ head: HTTPResponseHead) {
        status = Int(head.status.code)
        keepAlive = head.isKeepAlive
    }

    func responseBody(_ part: ByteBuffer) {
        guard (body?.readableBytes ?? 0) < 256 else { return }
        var part = part
        if body == nil { body = part } else { body!.writeBuffer(&part) }
    }

    func responseEnd() {
        guard let current else { return }
        self.current = nil
        current.timeout.cancel()
        if !keepAlive {
            channel?.close(promise: nil)
            channel = nil
        }
        let seq = body?.withUnsafeReadableBytes { StormClient.seq(in: $0) }
        body = nil
        publisher.answered(self, indices: current.indices, status: status, seq: seq)
    }

    func channelClosed(_ closedChannel: any Channel) {
        if channel === closedChannel { channel = nil }
        guard let current else { return }
        self.current = nil
        current.timeout.cancel()
        publisher.failedTransport(self, indices: current.indices)
    }

    // MARK: - Private

    private func connect() {
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        ClientBootstrap(group: eventLoop)
            .connectTimeout(.seconds(5))
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(PublishResponseHandler(connection: bound.value))
                }
            }
            .connect(to: endpoint.address)
            .whenComplete { result in
                let connection = bound.value
                guard let queued = connection.queued else { return }
                connection.queued = nil
                switch result {
                case .success(let channel) where !connection.closed:
                    connection.channel = channel
                    connection.write(queued, on: channel)
                case .success(let channel):
                    channel.close(promise: nil)
                    connection.publisher.failedTransport(connection, indices: queued.map(\.index))
                case .failure:
                    connection.publisher.failedTransport(connection, indices: queued.map(\.index))
                }
            }
    }

    private func write(_ events: [(index: Int, entity: Int)], on channel: any Channel) {
        let configuration = run.configuration
        let sentAt = NIODeadline.now().uptimeNanoseconds
        func message(_ event: (index: Int, entity: Int)) -> String {
            BenchMessage.make(sentAt: sentAt, index: event.index, size: configuration.messageBytes)
        }
        var body = channel.allocator.buffer(capacity: events.count * (configuration.messageBytes + 80))
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: endpoint.hostHeader)
        var target = run.publishTarget(entity: events[0].entity, at: endpoint)
        switch configuration.target {
        case .herald where events.count > 1:
            body.writeString("[")
            for (position, event) in events.enumerated() {
                body.writeString(position == 0 ? "" : ",")
                body.writeString(#"{"detail-type":"Entity Updated","detail":{"entityId":""#)
                body.writeString(BenchConfiguration.entityID(event.entity))
                body.writeString(#"","message":""#)
                body.writeString(message(event))
                body.writeString(#""}}"#)
            }
            body.writeString("]")
            target = BenchRun.batchPublishTarget
            headers.add(name: "Content-Type", value: "application/json")
            if let key = configuration.publishKey { headers.add(name: "Authorization", value: "Bearer \(key)") }
        case .herald:
            body.writeString(#"{"message":""#)
            body.writeString(message(events[0]))
            body.writeString(#""}"#)
            headers.add(name: "Content-Type", value: "application/json")
            if let key = configuration.publishKey { headers.add(name: "Authorization", value: "Bearer \(key)") }
        case .nchan:
            body.writeString(message(events[0]))
            headers.add(name: "Content-Type", value: "text/plain")
        }
        headers.add(name: "Content-Length", value: String(body.readableBytes))
        let head = HTTPRequestHead(version: .http1_1, method: .POST, uri: target, headers: headers)
        status = 0
        self.body = nil
        keepAlive = true
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        let timeout = eventLoop.scheduleTask(in: .nanoseconds(configuration.responseTimeout.nanoseconds)) {
            if let channel = bound.value.channel { channel.close(promise: nil) }
        }
        current = (events.map(\.index), timeout)
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        channel.write(HTTPClientRequestPart.body(.byteBuffer(body)), promise: nil)
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
    }
}

/// Hands HTTP responses of a publish connection to it.
final class PublishResponseHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    private let connection: PublishConnection

    init(connection: PublishConnection) {
        self.connection = connection
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): connection.responseHead(head)
        case .body(let part): connection.responseBody(part)
        case .end: connection.responseEnd()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        connection.channelClosed(context.channel)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
