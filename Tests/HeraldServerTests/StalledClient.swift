import NIOCore
import NIOPosix

/// A raw TCP client that upgrades, subscribes and then never reads a byte (auto-read off, small
/// receive buffer) and never reacts to the server ending its side (half-closure allowed, so the
/// server's FIN does not make NIO close this end): the slowest consumer there is.
struct StalledClient {
    let channel: any Channel

    static func connect(port: Int, token: String, subscribeTo entity: String) async throws -> StalledClient {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.autoRead, value: false)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelOption(.socketOption(.so_rcvbuf), value: 4096)
            .connect(host: "127.0.0.1", port: port)
            .get()
        var bytes = ByteBuffer(
            string: [
                "GET /?access_token=\(token) HTTP/1.1", "Host: 127.0.0.1:\(port)", "Upgrade: websocket", "Connection: Upgrade",
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13", "", "",
            ].joined(separator: "\r\n")
        )
        // The subscribe (a masked text frame, as RFC 6455 requires) follows the request at once.
        bytes.writeBytes(RawWebSocket.text(#"{"action":"subscribe","entityId":"\#(entity)"}"#))
        try await channel.writeAndFlush(bytes).get()
        return StalledClient(channel: channel)
    }

    func close() async throws {
        try? await channel.close().get()
    }
}
