import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// A TCP connection to 127.0.0.1 that sends exactly the bytes a test gives it, keeps what the
/// server sends, and tells when the server closed it: for idle, slow and half-sent clients.
final class RawConnection: Sendable {
    private let channel: any Channel
    private let received: Received

    private final class Received: Sendable {
        let bytes = Mutex<[UInt8]>([])
    }

    private final class Collector: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let received: Received
        init(_ received: Received) { self.received = received }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            received.bytes.withLock { $0 += buffer.readableBytesView }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)  // a reset from the server is a close too
        }
    }

    private init(channel: any Channel, received: Received) {
        self.channel = channel
        self.received = received
    }

    /// Connects; the kernel completes the handshake into the listen backlog even when the server is not accepting.
    static func open(port: Int) async throws -> RawConnection {
        let received = Received()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Collector(received)) }
            }
            .connect(host: "127.0.0.1", port: port)
            .get()
        return RawConnection(channel: channel, received: received)
    }

    /// Opens `count` connections, 32 at a time, each sending `first` (if any) as soon as it is open.
    static func open(_ count: Int, port: Int, sending first: [UInt8]? = nil) async throws -> [RawConnection] {
        try await withThrowingTaskGroup(of: RawConnection.self) { group in
            var connections: [RawConnection] = []
            for index in 0..<count {
                if index >= 32, let opened = try await group.next() { connections.append(opened) }
                group.addTask {
                    let connection = try await open(port: port)
                    if let first { await connection.send(first) }
                    return connection
                }
            }
            for try await opened in group { connections.append(opened) }
            return connections
        }
    }

    /// Writes `bytes`; false when the connection is already closed.
    @discardableResult
    func send(_ bytes: [UInt8]) async -> Bool {
        (try? await channel.writeAndFlush(ByteBuffer(bytes: bytes)).get()) != nil
    }

    @discardableResult
    func send(_ text: String) async -> Bool { await send(Array(text.utf8)) }

    /// What `pour` has handed to the kernel so far.
    final class Poured: Sendable {
        fileprivate let taken = Atomic<Int>(0)
        var bytes: Int { taken.load(ordering: .relaxed) }
    }

    /// Writes `chunk` `times` times without waiting for the server; the bytes the kernel has taken
    /// stop growing once the server stops reading (and its socket buffers are full).
    func pour(_ chunk: [UInt8], times: Int) -> Poured {
        let poured = Poured()
        let buffer = ByteBuffer(bytes: chunk)
        for _ in 0..<times {
            channel.writeAndFlush(buffer).whenSuccess { poured.taken.add(chunk.count, ordering: .relaxed) }
        }
        return poured
    }

    /// Everything the server sent so far, as text.
    var receivedText: String { received.bytes.withLock { String(decoding: $0, as: UTF8.self) } }

    var isOpen: Bool { channel.isActive }

    /// Waits until the server closes the connection; false when it is still open after `timeout`.
    func closed(within timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while channel.isActive, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(10)) }
        return !channel.isActive
    }

    /// Waits until `enough` holds for what the server sent; false after `timeout`.
    func received(within timeout: Duration, until enough: (String) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while !enough(receivedText), ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(10)) }
        return enough(receivedText)
    }

    func close() { channel.close(promise: nil) }
}
