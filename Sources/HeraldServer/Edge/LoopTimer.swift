import NIOCore

/// What a `LoopTimer` tells when it fires.
protocol LoopTimerOwner: AnyObject {
    /// The timer armed as `generation` fired (it may be stale: a later one was armed since).
    func loopTimerFired(_ generation: Int)
}

/// One NIO scheduled callback that tells its owner, held weakly, which of its timers fired.
///
/// A callback, not `scheduleTask`: no promise, no closures, so a timer costs one small object
/// and its place in the loop's queue. The owners never cancel one — cancelling searches the
/// loop's whole task queue (every connection's timers), so it grows with the connections a node
/// holds — they let a timer they no longer want fire and ignore it by its generation; one held
/// weakly keeps nothing of a connection that has ended alive.
final class LoopTimer<Owner: LoopTimerOwner>: NIOScheduledCallbackHandler {
    private weak var owner: Owner?
    private let generation: Int

    private init(owner: Owner, generation: Int) {
        self.owner = owner
        self.generation = generation
    }

    /// Arms a timer for `owner` at `deadline` on `eventLoop` (nothing once the loop is shutting down).
    static func arm(at deadline: NIODeadline, for owner: Owner, generation: Int, on eventLoop: any EventLoop) {
        _ = try? eventLoop.assumeIsolated().scheduleCallback(at: deadline, handler: LoopTimer(owner: owner, generation: generation))
    }

    func handleScheduledCallback(eventLoop: some EventLoop) {
        owner?.loopTimerFired(generation)
    }
}
