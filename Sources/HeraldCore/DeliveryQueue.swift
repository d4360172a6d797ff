public import NIOCore
import Synchronization

/// The deliveries handed to one event loop and not yet written.
///
/// Publishers `enqueue` a frame with a snapshot of the loop's recipients; the first enqueue
/// schedules one drain on the loop, later ones join it. The drain writes every queued frame to
/// its recipients and only then flushes, so a socket with several pushes waiting gets them in
/// one system call. Batches are drained in the order they were enqueued.
public final class DeliveryQueue: Sendable {
    private struct Batch {
        let frame: WireFrame
        let outlets: [ConnectionID: any Outlet]
    }

    private struct State {
        var batches: [Batch] = []
        var isDrainScheduled = false
    }

    public let eventLoop: any EventLoop
    private let state = Mutex(State())

    public init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    /// Queues `frame` for `outlets` (all owned by this queue's loop).
    func enqueue(_ frame: WireFrame, to outlets: [ConnectionID: any Outlet]) {
        let mustSchedule = state.withLock { state in
            state.batches.append(Batch(frame: frame, outlets: outlets))
            defer { state.isDrainScheduled = true }
            return !state.isDrainScheduled
        }
        if mustSchedule { eventLoop.execute { self.drain() } }
    }

    private func drain() {
        let batches = state.withLock { state in
            state.isDrainScheduled = false
            defer { state.batches = [] }
            return state.batches
        }
        for batch in batches {
            for outlet in batch.outlets.values { outlet.write(batch.frame) }
        }
        // A socket in several batches is flushed more than once; the later flushes find nothing to send.
        for batch in batches {
            for outlet in batch.outlets.values { outlet.flush() }
        }
    }
}
