import Foundation
import HeraldCore
import HeraldTokens
import Logging
import NIOCore
import NIOEmbedded
import NIOWebSocket
import Testing

@testable import HeraldServer

/// The NIO handler that runs a connection's state machine, in an `EmbeddedChannel` whose clock
/// the test moves (`advanceTime`): the deadlines of 4001, 4002, the idle timeout and the close
/// timeout in milliseconds, not seconds of waiting. The end-to-end suites prove the same wiring
/// over real sockets.
@Suite struct ConnectionHandlerTests {
    private static let secret = "handler-tests-secret-0123456789abcdef"

    /// One connection in an embedded pipeline (writer, handler), on a clock that
    /// starts now and moves only when the test says.
    private struct Harness {
        let loop: EmbeddedEventLoop
        let channel: EmbeddedChannel
        let hub: Hub
        let metrics: HeraldMetrics
        let connection: WebSocketConnection
        let verifier: TokenVerifier
        /// The wall clock at the loop's uptime zero.
        let wallAtStart: Double

        static func start(
            expiresIn: Double = 3_600,
            leeway: Duration = .zero,
            stalled: Bool = false,
            configure: (inout HeraldConfiguration.Limits) -> Void = { _ in }
        ) async throws -> Harness {
            let loop = EmbeddedEventLoop()
            let channel = EmbeddedChannel(loop: loop)
            try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).get()
            var limits = HeraldConfiguration.Limits()
            limits.closeTimeout = .milliseconds(5)
            configure(&limits)
            let metrics = HeraldMetrics()
            let hub = Hub(shardCount: 2, observer: metrics)
            var tokens = TokenConfiguration()
            tokens.secret = secret
            let verifier = try await TokenVerifier(configuration: tokens)
            let wallAtStart = Date().timeIntervalSince1970.rounded(.down)
            let settings = WebSocketConnection.Settings(
                hub: hub,
                broker: MemoryBroker(hub: hub),
                refusals: Refusals(metrics: metrics),
                verifier: verifier,
                tokenLeeway: leeway,
                limits: limits,
                hook: nil,
                metrics: metrics,
                directory: ConnectionDirectory(hub: hub),
                logger: Logger(label: "tests"),
                wallClock: { wallAtStart + Double(loop.now.uptimeNanoseconds) / 1e9 }
            )
            let peer = WebSocketConnection.Peer(sourceIP: "203.0.113.1", userAgent: nil, connectedAt: Date(timeIntervalSince1970: wallAtStart))
            let connection = WebSocketConnection(peer: peer, eventLoop: loop, metrics: metrics)
            let wire = WireWriter()
            let identity = Identity(userID: UserID("ada")!, expiresAt: Int(wallAtStart + expiresIn))
            // A socket that never finishes a write: what the client does not read stays queued.
            if stalled { try channel.pipeline.syncOperations.addHandler(StalledSocket()) }
            try channel.pipeline.syncOperations.addHandlers([
                wire, ConnectionHandler(identity: identity, connection: connection, wire: wire, settings: settings),
            ])
            return Harness(
                loop: loop,
                channel: channel,
                hub: hub,
                metrics: metrics,
                connection: connection,
                verifier: verifier,
                wallAtStart: wallAtStart
            )
        }

        func send(_ opcode: WebSocketOpcode, _ payload: ByteBuffer = ByteBuffer()) throws {
            try channel.writeInbound(WebSocketFrame(fin: true, opcode: opcode, data: payload))
        }

        func send(_ text: String) throws { try send(.text, ByteBuffer(string: text)) }

        /// Every frame written since the last call: (opcode, payload).
        func written() throws -> [(UInt8, [UInt8])] {
            var frames: [(UInt8, [UInt8])] = []
            while var bytes = try channel.readOutbound(as: ByteBuffer.self) {
                while bytes.readableBytes > 0 {
                    let first = bytes.readInteger(as: UInt8.self)!
                    var length = Int(bytes.readInteger(as: UInt8.self)! & 0x7F)
                    if length == 126 { length = Int(bytes.readInteger(as: UInt16.self)!) }
                    frames.append((first & 0x0F, bytes.readBytes(length: length)!))
                }
            }
            return frames
        }

        /// The close codes of the close frames written since the last call.
        func closes() throws -> [UInt16] {
            try written().filter { $0.0 == 0x8 }.map { frame in
                let bytes = frame.1
                return bytes.count >= 2 ? UInt16(bytes[0]) << 8 | UInt16(bytes[1]) : 0
            }
        }

        func token(expiresIn ttl: Duration) async throws -> String {
            var claims = TokenIssuer.Claims()
            claims.userID = "ada"
            claims.ttl = ttl
            return try await TokenIssuer(secret: ConnectionHandlerTests.secret).token(for: claims)
        }
    }

    @Test func theTokenDeadlineClosesWith4001AtExpPlusLeewayThenTheCloseTimeoutClosesTheSocket() async throws {
        let harness = try await Harness.start(expiresIn: 2, leeway: .milliseconds(500))
        #expect(harness.hub.connections == 1)
        harness.loop.advanceTime(by: .milliseconds(2_499))
        #expect(try harness.closes().isEmpty)
        harness.loop.advanceTime(by: .milliseconds(1))
        #expect(try harness.closes() == [4001])
        #expect(harness.hub.connections == 0, "an embedded channel has no half-close: shutting the output closes it")
    }

    /// A close frame that never gets out (a client that reads nothing): the socket is closed at the close timeout.
    @Test func theCloseTimeoutClosesASocketWhoseCloseFrameIsStuck() async throws {
        let harness = try await Harness.start(stalled: true)
        try harness.send(#"{"action":"ping"}"#)
        harness.connection.close(.disconnectedByAdmin)
        harness.loop.advanceTime(by: .milliseconds(4))
        #expect(harness.channel.isActive, "the client has the close timeout to read its close frame")
        harness.loop.advanceTime(by: .milliseconds(1))
        #expect(!harness.channel.isActive)
        #expect(harness.hub.connections == 0)
    }

    @Test func aRefreshMovesThe4001DeadlineToTheNewToken() async throws {
        let harness = try await Harness.start(expiresIn: 1)
        harness.loop.advanceTime(by: .milliseconds(500))
        let token = try await harness.token(expiresIn: .seconds(3_600))
        try harness.send(#"{"action":"refresh","token":"\#(token)","requestId":1}"#)
        let reply = try harness.written()
        #expect(reply.count == 1 && JSON.parse(reply[0].1)?["type"] == "refreshed")
        harness.loop.advanceTime(by: .seconds(10))
        #expect(try harness.closes().isEmpty)
        #expect(harness.channel.isActive)
    }

    @Test func theLifetimeClosesWith4002() async throws {
        let harness = try await Harness.start { $0.maxConnectionLifetime = .milliseconds(40) }
        harness.loop.advanceTime(by: .milliseconds(39))
        #expect(try harness.closes().isEmpty)
        harness.loop.advanceTime(by: .milliseconds(1))
        #expect(try harness.closes() == [4002])
    }

    /// Pinged every `--ping-interval` it is quiet; a pong starts the count again; quiet for the idle timeout: 1001.
    @Test func aQuietClientIsPingedThenClosedAtTheIdleTimeout() async throws {
        let harness = try await Harness.start {
            $0.pingInterval = .milliseconds(30)
            $0.idleTimeout = .milliseconds(90)
        }
        harness.loop.advanceTime(by: .milliseconds(30))
        #expect(try harness.written().map(\.0) == [0x9])
        harness.loop.advanceTime(by: .milliseconds(20))
        try harness.send(.pong)
        harness.loop.advanceTime(by: .milliseconds(60))
        #expect(try harness.written().map(\.0) == [0x9, 0x9])
        harness.loop.advanceTime(by: .milliseconds(30))
        #expect(try harness.closes() == [1001])
    }

    /// The client's close is answered with its code and the socket closed once that is out;
    /// pushes after a close are dropped and counted.
    @Test func aClientCloseIsEchoedAndLaterPushesAreDropped() async throws {
        let harness = try await Harness.start()
        try harness.send(#"{"action":"subscribe","entityId":"order-7"}"#)
        #expect(try harness.written().count == 1)
        #expect(harness.hub.subscriptions == 1)
        var code = ByteBuffer()
        code.writeInteger(UInt16(1000))
        try harness.send(.connectionClose, code)
        #expect(try harness.closes() == [1000])
        harness.loop.run()
        #expect(!harness.channel.isActive)
        #expect(harness.hub.subscriptions == 0 && harness.hub.connections == 0)
        harness.connection.write(.text(ByteBuffer(string: "late")))
        harness.connection.flush()
        #expect(try harness.written().isEmpty)
        let metrics = String(
            decoding: harness.metrics.exposition(hub: harness.hub, kept: EntityStreams.Figures(streams: 0, keptEvents: 0, keptBytes: 0)),
            as: UTF8.self
        )
        #expect(metrics.contains("herald_dropped_pushes_total 1"))
        #expect(metrics.contains(#"herald_closes_total{code="1000"} 1"#))
    }
}

/// Holds every write without completing it, as a socket whose peer reads nothing.
private final class StalledSocket: ChannelOutboundHandler {
    typealias OutboundIn = NIOAny
    private var held: [EventLoopPromise<Void>?] = []

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        held.append(promise)
    }

    func flush(context: ChannelHandlerContext) {}

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        for promise in held { promise?.fail(ChannelError.ioOnClosedChannel) }
        held = []
        context.close(mode: mode, promise: promise)
    }
}
