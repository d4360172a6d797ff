import NIOCore
import NIOPosix
import Synchronization

/// A TCP relay on 127.0.0.1 in front of a server: every byte goes through unchanged, both ways,
/// and the request heads clients send are kept — what a proxy or load balancer in front of
/// Herald would see (and log).
final class RecordingRelay: Sendable {
    let port: Int
    private let listener: any Channel
    private let recorded: Recorded

    private final class Recorded: Sendable {
        /// Per client connection, the bytes it sent up to the end of its first request head.
        let heads = Mutex<[String]>([])
    }

    /// Writes what it reads to `partner` (once connected, in order), closing it when this side closes.
    private final class Forward: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let partner: EventLoopFuture<any Channel>
        /// Set on the client side: where the first request head goes.
        let recorded: Recorded?
        private var head: [UInt8] = []
        private var headDone = false

        init(to partner: EventLoopFuture<any Channel>, recording recorded: Recorded? = nil) {
            self.partner = partner
            self.recorded = recorded
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            if let recorded, !headDone {
                head += buffer.readableBytesView
                if let end = Self.endOfHead(head) {
                    headDone = true
                    let text = String(decoding: head[..<end], as: UTF8.self)
                    recorded.heads.withLock { $0.append(text) }
                }
            }
            partner.whenSuccess { $0.writeAndFlush(buffer, promise: nil) }
        }

        func channelInactive(context: ChannelHandlerContext) {
            partner.whenSuccess { $0.close(promise: nil) }
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }

        private static func endOfHead(_ bytes: [UInt8]) -> Int? {
            let marker = Array("\r\n\r\n".utf8)
            guard bytes.count >= marker.count else { return nil }
            return (0...(bytes.count - marker.count)).first { Array(bytes[$0..<($0 + marker.count)]) == marker }
        }
    }

    private init(port: Int, listener: any Channel, recorded: Recorded) {
        self.port = port
        self.listener = listener
        self.recorded = recorded
    }

    /// Starts relaying to 127.0.0.1:`target`.
    static func start(to target: Int) async throws -> RecordingRelay {
        let recorded = Recorded()
        let group = MultiThreadedEventLoopGroup.singleton
        let listener = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { client in
                let clientReady = client.eventLoop.makeSucceededFuture(client)
                let upstream = ClientBootstrap(group: client.eventLoop)
                    .channelInitializer { upstream in
                        upstream.eventLoop.makeCompletedFuture { try upstream.pipeline.syncOperations.addHandler(Forward(to: clientReady)) }
                    }
                    .connect(host: "127.0.0.1", port: target)
                // A relay that cannot reach the server drops the client.
                upstream.whenFailure { _ in client.close(promise: nil) }
                return client.eventLoop.makeCompletedFuture {
                    try client.pipeline.syncOperations.addHandler(Forward(to: upstream, recording: recorded))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        guard let port = listener.localAddress?.port else { throw TestFailure("the relay has no port") }
        return RecordingRelay(port: port, listener: listener, recorded: recorded)
    }

    /// The request heads clients sent so far, one per connection, in arrival order.
    var heads: [String] { recorded.heads.withLock { $0 } }

    func stop() async throws {
        try await listener.close()
    }
}
