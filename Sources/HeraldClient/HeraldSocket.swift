import AsyncHTTPClient
public import HTTPTypes
import HeraldCore
public import Logging
import NIOCore
import NIOHTTP1
public import NIOSSL
import NIOWebSocket
import Synchronization
import WSClient

/// A WebSocket client for Herald (used by `herald listen` and the tests): connect, send text,
/// and read what arrives, each read bounded in time.
public final class HeraldSocket: Sendable {
    private enum Command: Sendable {
        case text(String)
        case binary([UInt8])
        case close(UInt16)
    }

    private let inbox = SocketInbox()
    private let commands: AsyncStream<Command>.Continuation
    private let commandStream: AsyncStream<Command>

    private init() {
        (commandStream, commands) = AsyncStream.makeStream(of: Command.self)
    }

    /// Connects to `url` (e.g. `ws://127.0.0.1:8080/?access_token=…`) and returns once the upgrade succeeded.
    public static func connect(
        url: String,
        headers: HTTPFields = [:],
        maxFrameSize: Int = 1 << 20,
        tlsConfiguration: TLSConfiguration? = nil,
        logger: Logger = Logger(label: "herald.client")
    ) async throws -> HeraldSocket {
        let socket = HeraldSocket()
        let opened = OpeningSignal()
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            opened.set(continuation)
            Task {
                do {
                    let closeFrame = try await WebSocketClient.connect(
                        url: url,
                        configuration: .init(maxFrameSize: maxFrameSize, additionalHeaders: headers),
                        tlsConfiguration: tlsConfiguration,
                        logger: logger
                    ) { inbound, outbound, _ in
                        opened.take()?.resume()
                        try await socket.pump(inbound: inbound, outbound: outbound)
                    }
                    socket.inbox.append(.closed(code: closeFrame.map { UInt16(webSocketErrorCode: $0.closeCode) }, reason: closeFrame?.reason))
                } catch {
                    socket.inbox.append(.closed(code: nil, reason: "\(error)"))
                    guard let waiting = opened.take() else { return }
                    let refusal = await refusal(of: url, headers: headers, tlsConfiguration: tlsConfiguration)
                    waiting.resume(
                        throwing: ClientError(refusal == nil ? .unreachable : .upgradeRefused, "cannot connect to \(url): \(refusal ?? "\(error)")")
                    )
                }
            }
        }
        return socket
    }

    /// Sends one text frame.
    public func send(_ text: String) { commands.yield(.text(text)) }

    /// Sends one binary frame.
    public func sendBinary(_ bytes: [UInt8]) { commands.yield(.binary(bytes)) }

    /// Starts the close handshake with `code`.
    public func close(code: UInt16 = 1000) { commands.yield(.close(code)) }

    /// The next received event, or nil when nothing arrives within `timeout`.
    public func next(timeout: Duration = .seconds(5)) async -> SocketEvent? {
        await inbox.next(timeout: timeout)
    }

    private func pump(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await command in self.commandStream {
                    switch command {
                    case .text(let text): try await outbound.write(.text(text))
                    case .binary(let bytes): try await outbound.write(.binary(ByteBuffer(bytes: bytes)))
                    case .close(let code):
                        try await outbound.close(WebSocketErrorCode(codeNumber: Int(code)), reason: nil)
                        return
                    }
                }
            }
            for try await message in inbound.messages(maxSize: 1 << 24) {
                switch message {
                case .text(let text): inbox.append(.text(text))
                case .binary: inbox.append(.binary)
                }
            }
            group.cancelAll()
        }
    }
}

/// Why the server refused an upgrade: the same upgrade request again over plain HTTP, whose
/// answer is Herald's status and `{"message","reason"}` (swift-websocket's client reports only
/// that the upgrade failed). Nil when the server cannot be reached or gives no such answer.
private func refusal(of url: String, headers: HTTPFields, tlsConfiguration: TLSConfiguration?) async -> String? {
    guard tlsConfiguration == nil else { return nil }  // the probe's client would not trust a test's own certificate
    var request = HTTPClientRequest(url: HTTPURL.http(from: url))
    request.headers.add(contentsOf: [
        ("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Version", "13"), ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ])
    for field in headers { request.headers.add(name: field.name.rawName, value: field.value) }
    guard let answer = try? await PublishClient.send(request, timeout: .seconds(5)) else { return nil }
    guard let body = JSON.parse(answer.body), let reason = body["reason"]?.stringValue else { return "HTTP \(answer.status)" }
    return "HTTP \(answer.status) \(reason): \(body["message"]?.stringValue ?? "")"
}

/// The connect call's continuation, resumed once: by the upgrade or by the failure.
private final class OpeningSignal: Sendable {
    private let continuation = Mutex<CheckedContinuation<Void, any Error>?>(nil)

    func set(_ continuation: CheckedContinuation<Void, any Error>) { self.continuation.withLock { $0 = continuation } }

    func take() -> CheckedContinuation<Void, any Error>? { continuation.withLock { $0.take() } }
}
