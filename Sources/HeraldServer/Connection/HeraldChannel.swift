import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import NIOSSL
import NIOWebSocket

/// The connection pipeline: HTTP/1.1 with a WebSocket upgrade whose refusals carry PROTOCOL.md §1's
/// status and `{"message","reason"}` body.
///
/// A connection starts with `ConnectHandshake` alone, which settles a plain WebSocket upgrade
/// itself; any other first request gets the HTTP pipeline below (NIO's parser and typed upgrade
/// handler, then Hummingbird). That pipeline is modelled on HummingbirdWebSocket's
/// `HTTP1WebSocketUpgradeChannel`, which answers every refused upgrade with an empty `400` (and
/// redirects other upgrade attempts). After an upgrade, by either path, the connection is a plain
/// NIO pipeline — NIOWebSocket's frame decoder and aggregator, and the `ConnectionHandler` that
/// runs the connection's state machine (its pings and deadlines included) — run by its event
/// loop, with no task per connection; see docs/PERFORMANCE.md for why.
struct HeraldChannel: ServerChildChannel, HTTPChannelHandler {
    enum UpgradeResult: Sendable {
        /// Nothing more to do: the connection belongs to its `ConnectionHandler`, or
        /// `ConnectHandshake` has refused it.
        case settled
        case notUpgraded(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
        case refused(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>, HTTPRefusal)
    }

    struct Value: ServerChildChannelValue {
        let upgradeResult: EventLoopFuture<UpgradeResult>
        let channel: any Channel
    }

    let responder: HTTPChannelHandler.Responder
    let gate: ConnectGate
    let connection: WebSocketConnection.Settings
    /// Behind TLS (`--tls-cert`): requests are `https`.
    let secure: Bool
    /// What `PublishFastPath` answers publishes with.
    let publishRoutes: PublishRoutes
    let publishKeys: PublishKeys

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            let result = channel.eventLoop.makePromise(of: UpgradeResult.self)
            let settled = channel.eventLoop.makePromise(of: ConnectHandshake.Outcome.self)
            settled.futureResult.whenComplete { outcome in
                switch outcome {
                case .success(.settled): result.succeed(.settled)
                case .success(.http): break  // the HTTP pipeline completes it
                case .failure(let error): result.fail(error)
                }
            }
            let handshake = ConnectHandshake(
                gate: gate,
                maxHeadBytes: connection.limits.maxHeaderBytes,
                outcome: settled,
                webSocket: { channel, admitted in try addWebSocketHandlers(to: channel, admitted, withCodec: true) },
                http: { channel in try configureHTTP(channel, logger: logger).cascade(to: result) }
            )
            try channel.pipeline.syncOperations.addHandler(handshake)
            return Value(upgradeResult: result.futureResult, channel: channel)
        }
    }

    /// The HTTP/1.1 pipeline with NIO's typed WebSocket upgrade, behind `ConnectHandshake`.
    private func configureHTTP(_ channel: any Channel, logger: Logger) throws -> EventLoopFuture<UpgradeResult> {
        let refusal = NIOLoopBoundBox<HTTPRefusal?>(nil, eventLoop: channel.eventLoop)
        let admission = NIOLoopBoundBox<Admission?>(nil, eventLoop: channel.eventLoop)
        let webSocketUpgrader = NIOTypedWebSocketServerUpgrader<UpgradeResult>(
            maxFrameSize: connection.limits.maxMessageBytes,
            enableAutomaticErrorHandling: false,  // the ConnectionHandler closes with the right code itself
            shouldUpgrade: { channel, head in
                // Admission (token included) is decided right here on the event loop: no task, no hop
                // (only a token naming a key id the JWKS lacks waits, for one refresh of the key set).
                let decided: EventLoopFuture<Result<Admission, HTTPRefusal>>
                if let head = try? HTTPRequest(head, secure: secure, splitCookie: false) {
                    let request = Request(head: head, body: .init(buffer: ByteBuffer()))
                    decided = gate.admit(
                        request,
                        sourceIP: channel.remoteAddress?.ipAddress,
                        serverPort: channel.localAddress?.port,
                        on: channel.eventLoop
                    )
                } else {
                    decided = channel.eventLoop.makeSucceededFuture(.failure(.badUpgrade))
                }
                return decided.assumeIsolated().map { decision -> HTTPHeaders? in
                    switch decision {
                    case .failure(let rejection):
                        refusal.value = rejection
                        return nil
                    case .success(let admitted):
                        admission.value = admitted
                        // NIO upgrades next: the bytes after the request (frames) must not reach the reporter.
                        if let reporter = try? channel.pipeline.syncOperations.handler(type: HTTPExchangeReporter.self) {
                            channel.pipeline.syncOperations.removeHandler(reporter, promise: nil)
                        }
                        var headers = HTTPHeaders()
                        if let subprotocol = admitted.subprotocol { headers.add(name: "Sec-WebSocket-Protocol", value: subprotocol) }
                        return headers
                    }
                }.nonisolated()
            },
            upgradePipelineHandler: { channel, _ in
                channel.eventLoop.makeCompletedFuture {
                    // The upgrade only happens after shouldUpgrade admitted the request.
                    guard let admitted = admission.value else { throw ChannelError.inappropriateOperationForState }
                    try addWebSocketHandlers(to: channel, admitted, withCodec: false)
                    channel.pipeline.syncOperations.fireUserInboundEventTriggered(ConnectionProgress.upgraded)
                    return .settled
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
                    try channel.pipeline.syncOperations.addHandler(HTTP1ToHTTPServerCodec(secure: secure))
                    try channel.pipeline.syncOperations.addHandler(HTTPConnectionStateHandler(logger: logger))
                    try channel.pipeline.syncOperations.addHandler(PublishFastPath(routes: publishRoutes, keys: publishKeys))
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
        // A request NIO cannot parse gets `400 Bad Request` and the socket is closed (otherwise it would stay open).
        pipeline.enableErrorHandling = true
        pipeline.enableResponseHeaderValidation = false
        pipeline.decoderConfiguration.maxHeaderListSize = connection.limits.maxHeaderBytes
        let result = try channel.pipeline.syncOperations.configureUpgradableHTTPServerPipeline(configuration: pipeline)
        let upgradeHandler = try channel.pipeline.syncOperations.handler(type: NIOTypedHTTPServerUpgradeHandler<UpgradeResult>.self)
        try channel.pipeline.syncOperations.addHandler(UpgradeProtocolFilter(), position: .before(upgradeHandler))
        // Before NIO's error handler, so its `400 … Connection: close` is seen (and the socket then closed).
        let errorHandler = try channel.pipeline.syncOperations.handler(type: HTTPServerProtocolErrorHandler.self)
        try channel.pipeline.syncOperations.addHandler(HTTPExchangeReporter(), position: .before(errorHandler))
        return result
    }

    func handle(value: Value, logger: Logger) async {
        do {
            switch try await value.upgradeResult.get() {
            case .notUpgraded(let http):
                await handleHTTP(asyncChannel: http, logger: logger)
            case .refused(let http, let rejection):
                await Self.write(rejection, to: http)
            case .settled:
                break
            }
        } catch {
            logger.debug("Connection ended with an error", metadata: ["error.type": "\(type(of: error))"])
        }
    }

    /// Completes the upgraded pipeline; `withCodec`: the frame encoder and decoder too (NIO's
    /// upgrader adds them itself).
    private func addWebSocketHandlers(to channel: any Channel, _ admitted: Admission, withCodec: Bool) throws {
        let limits = connection.limits
        let capacity = limits.outboundBufferBytes
        try channel.syncOptions?.setOption(.writeBufferWaterMark, value: .init(low: max(1, capacity / 2), high: capacity))
        let wire = WireWriter()
        let pipeline = channel.pipeline.syncOperations
        // Frames are written as bytes straight to the socket, past the HTTP and WebSocket
        // handlers; behind TLS they still go through the TLS handler, which comes first.
        let position: ChannelPipeline.SynchronousOperations.Position =
            secure ? .after(try pipeline.handler(type: NIOSSLServerHandler.self)) : .first
        try pipeline.addHandler(wire, position: position)
        if withCodec {
            try pipeline.addHandler(WebSocketFrameEncoder())
            try pipeline.addHandler(ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: limits.maxMessageBytes)))
        }
        try pipeline.addHandlers([
            // Right after NIO's frame decoder: the aggregator loses the mask and RSV bits of fragments.
            ClientFrameValidator(),
            NIOWebSocketFrameAggregator(
                minNonFinalFragmentSize: 1,
                maxAccumulatedFrameCount: 1024,
                maxAccumulatedFrameSize: limits.maxMessageBytes
            ),
            ConnectionHandler(
                identity: admitted.identity,
                connection: WebSocketConnection(peer: admitted.peer, eventLoop: channel.eventLoop, metrics: connection.metrics),
                wire: wire,
                settings: connection
            ),
        ])
    }

    /// Answers a refused upgrade and closes the connection.
    private static func write(_ rejection: HTTPRefusal, to http: NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>) async {
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
