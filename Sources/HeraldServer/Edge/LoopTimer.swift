import NIOCore

/// What a `LoopTimer` tells when it fires.
protocol LoopTimerOwner: AnyObject {
    /// The timer armed as `generation` fired (it may be stale: a later one was armed since).
    func loopTimerFired(_ generation: Int)
}

/// What an owner's timers reach it through: each pending timer holds the link, and the link holds
/// the owner until the owner lets go (when it leaves its pipeline), so a timer that fires later
/// keeps nothing of it alive. Not a weak reference: one would give the owner a side table, which
/// makes every retain and release of it slower — and a connection's handler is retained for
/// every push it writes.
final class LoopTimerLink<Owner: LoopTimerOwner> {
    var owner: Owner?
}

/// One NIO scheduled callback that tells its owner which of its timers fired.
///
/// A callback, not `scheduleTask`: no promise, no closures, so a timer costs one small object
/// and its place in the loop's queue. The owners never cancel one — cancelling searches the
/// loop's whole task queue (every connection's timers), so it grows with the connections a node
/// holds — they let a timer they no longer want fire and ignore it by its generation.
final class LoopTimer<Owner: LoopTimerOwner>: NIOScheduledCallbackHandler {
    private let link: LoopTimerLink<Owner>
    private let generation: Int

    private init(link: LoopTimerLink<Owner>, generation: Int) {
        self.link = link
        self.generation = generation
    }

    /// Arms a timer at `deadline` on `eventLoop` for the owner of `link` (nothing once the loop is shutting down).
    static func arm(at deadline: NIODeadline, via link: LoopTimerLink<Owner>, generation: Int, on eventLoop: any EventLoop) {
        _ = try? eventLoop.assumeIsolated().scheduleCallback(at: deadline, handler: LoopTimer(link: link, generation: generation))
    }

    func handleScheduledCallback(eventLoop: some EventLoop) {
        link.owner?.loopTimerFired(generation)
    }
}
