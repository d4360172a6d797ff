import Logging
import NIOCore
import NIOPosix

/// Pauses accepting while `accept(2)` fails for want of file descriptors or memory (`EMFILE`,
/// `ENFILE`, `ENOBUFS`, `ENOMEM`), instead of retrying it in a tight loop.
///
/// NIO's async bootstraps already put an `AcceptBackoffHandler` on the server channel, but it
/// cannot take effect: it delays the *next* `read()`, and after a failed accept NIO issues none —
/// the failed read stays pending, so the listening socket stays registered for readability, and
/// the level-triggered poll reports the waiting connections again at once. This handler, first on
/// the server channel, turns `autoRead` off (which takes the socket out of the poll), and on again
/// `pause` later, when accept is tried again. An episode — from the first failure to the next
/// accepted connection — is logged once at warning and once at its end; every pause is counted in
/// `herald_accept_backoffs_total`.
final class AcceptBackoff: ChannelInboundHandler {
    typealias InboundIn = any Channel
    typealias InboundOut = any Channel

    /// How long accepting pauses after a failure.
    static let pause: TimeAmount = .milliseconds(100)
    /// The accept errors that more descriptors or memory will cure.
    static let exhaustionErrors: Set<Int32> = [EMFILE, ENFILE, ENOBUFS, ENOMEM]

    private let metrics: HeraldMetrics
    private let logger: Logger
    private var episode: (start: NIODeadline, pauses: Int)?
    private var resumption: Scheduled<Void>?

    init(metrics: HeraldMetrics, logger: Logger) {
        self.metrics = metrics
        self.logger = logger
    }

    /// Puts one first on the listening `channel`'s pipeline (Hummingbird hands it over once bound).
    static func install(on channel: any Channel, metrics: HeraldMetrics, logger: Logger) async {
        do {
            try await channel.eventLoop.submit {
                try channel.pipeline.syncOperations.addHandler(AcceptBackoff(metrics: metrics, logger: logger), position: .first)
            }.get()
        } catch {
            logger.error("The accept back-off could not be installed", metadata: ["error": "\(error)"])
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let error = error as? IOError, Self.exhaustionErrors.contains(error.errnoCode) else {
            return context.fireErrorCaught(error)
        }
        metrics.acceptPaused()
        if var current = episode {
            current.pauses += 1
            episode = current
        } else {
            episode = (.now(), 1)
            logger.warning(
                "Accepting paused: out of file descriptors or memory; retrying every 100 ms",
                metadata: ["herald.errno": "\(error.errnoCode)", "error": "\(error)"]
            )
        }
        guard resumption == nil else { return }
        try? context.channel.syncOptions?.setOption(.autoRead, value: false)
        resumption = context.eventLoop.assumeIsolated().scheduleTask(in: Self.pause) { [self] in
            self.resumption = nil
            try? context.channel.syncOptions?.setOption(.autoRead, value: true)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if let (start, pauses) = episode {
            episode = nil
            logger.info(
                "Accepting resumed",
                metadata: ["herald.paused.seconds": "\(Double((NIODeadline.now() - start).nanoseconds) / 1e9)", "herald.pauses": "\(pauses)"]
            )
        }
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        resumption?.cancel()
        resumption = nil
        context.fireChannelInactive()
    }
}
