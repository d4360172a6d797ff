import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import NIOWebSocket
@_spi(WSInternal) import WSCore

/// The connection pipeline: HTTP/1.1 with a WebSocket upgrade whose refusals carry SPEC §2's
/// status and `{"message","reason"}` body.
///
/// Modelled on HummingbirdWebSocket's `HTTP1WebSocketUpgradeChannel`, which answers every
/// refused upgrade with an empty `400` (and redirects other upgrade attempts); that is the only
/// part written here — frames, pings and closing are still WSCore's `WebSocketHandler`.
struct HeraldChannel: ServerChildChannel, HTTPChannelHandler {
    typealias Session = @Sendable (Admission, WebSocketInboundStream, WebSocketOutboundWriter, Logger) async throws -> Void

    enum UpgradeResult: Sendable {
        case webSocket(NIOAsyncChannel<WebSocketFrame, WebSocketFrame>, Admission, Logger)
        case notUpgraded(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
        case refused(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>, ConnectRejection)
    }

    struct Value: ServerChildChannelValue {
        let upgradeResult: EventLoopFuture<UpgradeResult>
        let channel: any Channel
    }

    /// The WebSocket context handed to WSCore.
    struct Context: WebSocketContext {
        let logger: Logger
    }

    let responder: HTTPChannelHandler.Responder
    let gate: ConnectGate
    let webSocket: WebSocketServerConfiguration
    let session: Session

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            let refusal = NIOLoopBoundBox<ConnectRejection?>(nil, eventLoop: channel.eventLoop)
            let admission = NIOLoopBoundBox<Admission?>(nil, eventLoop: channel.eventLoop)
            let webSocketUpgrader = NIOTypedWebSocketServerUpgrader<UpgradeResult>(
                maxFrameSize: webSocket.maxFrameSize,
                shouldUpgrade: { channel, head in
                    let promise = channel.eventLoop.makePromise(of: HTTPHeaders?.self)
                    promise.completeWithTask {
                        let decision: Result<Admission, ConnectRejection>
                        if let head = try? HTTPRequest(head, secure: false, splitCookie: false) {
                            decision = await gate.admit(Request(head: head, body: .init(buffer: ByteBuffer())), sourceIP: channel.remoteAddress?.ipAddress)
                        } else {
                            decision = .failure(.badUpgrade)
                        }
                        switch decision {
                        case .failure(let rejection):
                            channel.eventLoop.execute { refusal.value = rejection }
                            return nil
                        case .success(let admitted):
                            channel.eventLoop.execute { admission.value = admitted }
                            var headers = HTTPHeaders()
                            if let subprotocol = admitted.subprotocol { headers.add(name: "Sec-WebSocket-Protocol", value: subprotocol) }
                            return headers
                        }
                    }
                    return promise.futureResult
                },
                upgradePipelineHandler: { channel, _ in
                    channel.eventLoop.makeCompletedFuture {
                        // The upgrade only happens after shouldUpgrade admitted the request.
                        guard let admitted = admission.value else { throw ChannelError.inappropriateOperationForState }
                        let asyncChannel = try NIOAsyncChannel<WebSocketFrame, WebSocketFrame>(
                            wrappingChannelSynchronously: channel,
                            configuration: .init(isOutboundHalfClosureEnabled: true)
                        )
                        return .webSocket(asyncChannel, admitted, logger)
                    }
                }
            )
            // An upgrade NIO itself refuses (no Sec-WebSocket-Key, wrong version) never reaches
            // shouldUpgrade; it is still an upgrade attempt, answered with 400 bad_upgrade.
            let upgrader = AttemptRecordingUpgrader(base: webSocketUpgrader) {
                if refusal.value == nil && admission.value == nil { refusal.value = .badUpgrade }
            }
            let configuration = NIOTypedHTTPServerUpgradeConfiguration(
                upgraders: [upgrader],
                notUpgradingCompletionHandler: { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(HTTP1ToHTTPServerCodec(secure: false))
                        try channel.pipeline.syncOperations.addHandler(HTTPConnectionStateHandler(logger: logger))
                        let http = try NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>(
                            wrappingChannelSynchronously: channel,
                            configuration: .init(isOutboundHalfClosureEnabled: true)
                        )
                        return refusal.value.map { .refused(http, $0) } ?? .notUpgraded(http)
                    }
                }
            )
            var pipeline = NIOUpgradableHTTPServerPipelineConfiguration<UpgradeResult>(upgradeConfiguration: configuration)
            pipeline.enablePipelining = false
            pipeline.enableErrorHandling = false
            pipeline.enableResponseHeaderValidation = false
            let result = try channel.pipeline.syncOperations.configureUpgradableHTTPServerPipeline(configuration: pipeline)
            return Value(upgradeResult: result, channel: channel)
        }
    }

    func handle(value: Value, logger: Logger) async {
        do {
            switch try await value.upgradeResult.get() {
            case .notUpgraded(let http):
                await handleHTTP(asyncChannel: http, logger: logger)
            case .refused(let http, let rejection):
                await Self.write(rejection, to: http)
            case .webSocket(let asyncChannel, let admission, let logger):
                _ = try await WebSocketHandler.handle(
                    type: .server,
                    configuration: .init(
                        extensions: [],
                        autoPing: webSocket.autoPing,
                        closeTimeout: webSocket.closeTimeout,
                        validateUTF8: webSocket.validateUTF8,
                        maxFrameSize: webSocket.maxFrameSize
                    ),
                    asyncChannel: asyncChannel,
                    context: Context(logger: logger)
                ) { inbound, outbound, context in
                    try await session(admission, inbound, outbound, context.logger)
                }
            }
        } catch {
            logger.debug("Connection ended with an error", metadata: ["error.type": "\(type(of: error))"])
        }
    }

    /// Answers a refused upgrade and closes the connection.
    private static func write(_ rejection: ConnectRejection, to http: NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>) async {
        let body = rejection.body
        let head = HTTPResponse(
            status: rejection.status,
            headerFields: [
                .contentType: "application/json; charset=utf-8",
                .contentLength: "\(body.readableBytes)",
                .connection: "close",
            ]
        )
        try? await http.executeThenClose { _, outbound in
            try await outbound.write(contentsOf: [.head(head), .body(body), .end(nil)])
        }
    }
}

/// Forwards to another upgrader and reports when its upgrade attempt failed.
private struct AttemptRecordingUpgrader<Base: NIOTypedHTTPServerProtocolUpgrader>: NIOTypedHTTPServerProtocolUpgrader {
    let base: Base
    let failed: @Sendable () -> Void

    var supportedProtocol: String { base.supportedProtocol }
    var requiredUpgradeHeaders: [String] { base.requiredUpgradeHeaders }

    func buildUpgradeResponse(
        channel: any Channel,
        upgradeRequest: HTTPRequestHead,
        initialResponseHeaders: HTTPHeaders
    ) -> EventLoopFuture<HTTPHeaders> {
        base.buildUpgradeResponse(channel: channel, upgradeRequest: upgradeRequest, initialResponseHeaders: initialResponseHeaders)
            .hop(to: channel.eventLoop)
            .flatMapErrorThrowing { error in
                failed()
                throw error
            }
    }

    func upgrade(channel: any Channel, upgradeRequest: HTTPRequestHead) -> EventLoopFuture<Base.UpgradeResult> {
        base.upgrade(channel: channel, upgradeRequest: upgradeRequest)
    }
}
