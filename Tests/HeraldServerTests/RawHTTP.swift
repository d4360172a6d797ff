import Foundation
import NIOCore
import NIOPosix

/// Sends raw bytes to the server and returns the response head, for checks no client library exposes.
enum RawHTTP {
    static func exchange(port: Int, request: String) async throws -> String {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: request))
            var received = ""
            for try await chunk in inbound {
                received += String(buffer: chunk)
                if let end = received.range(of: "\r\n\r\n") { return String(received[..<end.lowerBound]) }
            }
            return received
        }
    }
}

extension RawHTTP {
    /// Sends raw bytes and returns everything received until `enough` holds for it, or what came
    /// in `timeout` (the connection is then closed).
    /// `thenCloseOutput`: the client shuts its side once the request is sent (a half-closure).
    static func received(
        port: Int,
        request: String,
        thenCloseOutput: Bool = false,
        timeout: Duration = .seconds(5),
        until enough: @escaping @Sendable (String) -> Bool
    ) async throws -> String {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        let deadline = channel.channel.eventLoop.scheduleTask(in: TimeAmount(timeout)) { channel.channel.close(promise: nil) }
        defer { deadline.cancel() }
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: request))
            if thenCloseOutput { try await channel.channel.close(mode: .output) }
            var received = ""
            for try await chunk in inbound {
                received += String(buffer: chunk)
                if enough(received) { break }
            }
            return received
        }
    }
}
