import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOExtras
import NIOHTTP1
import NIOPosix
import ServiceLifecycle

/// The listening socket and its connections, run by NIO's event loops.
///
/// An accepted socket gets its pipeline (`GuardedChannel`, TLS, `HeraldChannel`) at once, on its
/// event loop, and a connection that the handshake settles — a WebSocket, or a refused upgrade —
/// never involves a Swift task. Only a connection that turns out to be HTTP for Hummingbird gets
/// one, for as long as it stays open, running Hummingbird's request loop with the router.
/// (Hummingbird's own server starts a task for every accepted socket: two thread hops per
/// WebSocket connect, which were a fifth of its CPU; docs/PERFORMANCE.md.)
///
/// On graceful shutdown it stops accepting and asks every connection to quiesce (NIO's
/// `ServerQuiescingHelper`), then waits for them all to close and for their tasks to end.
struct ConnectionServer<Child: ServerChildChannel>: Service, CustomStringConvertible where Child.Value == HeraldChannel.Value {
    let child: Child
    let host: String
    let port: Int
    /// A push gateway takes reconnect storms: a deep accept queue instead of SYN retries (1 s each).
    let backlog: Int
    let group: any EventLoopGroup
    let logger: Logger
    /// Called with the listening channel once it accepts connections.
    let onRunning: @Sendable (any Channel) async -> Void

    /// What the service group logs at start: the address, never the settings (they hold the keys).
    var description: String { "ConnectionServer(\(host):\(port))" }

    func run() async throws {
        let (connections, arrived) = AsyncStream.makeStream(of: Child.Value.self)
        let quiescing = ServerQuiescingHelper(group: group)
        let child = child
        let logger = logger
        let listener = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: Int32(backlog))
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(quiescing.makeServerChannelHandler(channel: channel))
                }
            }
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                // A failed setup (a shed connection) has closed the socket itself.
                child.setup(channel: channel, logger: logger).map { value in
                    value.upgradeResult.whenSuccess { result in
                        if case .settled = result { return }
                        arrived.yield(value)
                    }
                }
            }
            .bind(host: host, port: port)
            .get()
        logger.info("Server started and listening on \(host):\(listener.localAddress?.port ?? port)")
        await withGracefulShutdownHandler {
            await onRunning(listener)
            await withDiscardingTaskGroup { tasks in
                for await connection in connections {
                    tasks.addTask { await child.handle(value: connection, logger: logger) }
                }
            }
        } onGracefulShutdown: {
            let quiesced = listener.eventLoop.makePromise(of: Void.self)
            quiescing.initiateShutdown(promise: quiesced)
            quiesced.futureResult.whenComplete { _ in arrived.finish() }
        }
        arrived.finish()
        try? await listener.close()
    }

    /// Hummingbird's request loop with `router`'s responder, each response stamped as Hummingbird's
    /// `Application` does (`Date`, `Server: Herald`).
    static func responder(for router: Router<BasicRequestContext>, logger: Logger) -> HTTPChannelHandler.Responder {
        let routes = router.buildResponder()
        return { request, writer, channel in
            let context = BasicRequestContext(source: .init(channel: channel, logger: logger))
            var response: Response
            do {
                response = try await routes.respond(to: request, context: context)
            } catch let error as HTTPParserError {
                throw error
            } catch {
                logger.debug("Unrecognised Error", metadata: ["error.type": "\(error)"])
                response = Response(status: .internalServerError, body: .init())
            }
            response.headers[.date] = HTTPDate.now
            response.headers[.server] = "Herald"
            try await writer.write(response: response.head, body: response.body)
        }
    }
}
