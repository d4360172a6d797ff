import NIOCore
import NIOPosix

/// A raw TCP client that upgrades, subscribes and then never reads a byte (auto-read off, small
/// receive buffer): the slowest consumer there is.
struct StalledClient {
    let channel: any Channel

    static func connect(port: Int, token: String, subscribeTo entity: String) async throws -> StalledClient {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.autoRead, value: false)
            .channelOption(.socketOption(.so_rcvbuf), value: 4096)
            .connect(host: "127.0.0.1", port: port)
            .get()
        var bytes = ByteBuffer(string: [
            "GET /?access_token=\(token) HTTP/1.1", "Host: 127.0.0.1:\(port)", "Upgrade: websocket", "Connection: Upgrade",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13", "", "",
        ].joined(separator: "\r\n"))
        // An unmasked text frame is enough for Herald; the subscribe follows the request at once.
        let subscribe = Array(#"{"action":"subscribe","entityId":"\#(entity)"}"#.utf8)
        bytes.writeBytes([0x81, UInt8(subscribe.count)] + subscribe)
        try await channel.writeAndFlush(bytes).get()
        return StalledClient(channel: channel)
    }

    func close() async throws {
        try? await channel.close().get()
    }
}
