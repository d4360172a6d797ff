public import NIOCore
import Synchronization

/// The bounded outbound queue of one connection.
///
/// Publishers `post` pre-encoded frames without ever waiting; the connection's writer takes
/// everything queued in one batch with `next()`. When the queued bytes would pass the capacity
/// the client is a slow consumer: the queue is dropped, and the writer is told to close with 1013.
public final class Mailbox: Sendable {
    /// What the writer does next.
    public enum Next: Equatable, Sendable {
        /// Write these frames, in order.
        case frames([ByteBuffer])
        /// Send a close frame with this reason, then stop.
        case close(CloseReason)
        /// The connection is over; stop.
        case finished
    }

    private struct State {
        var frames: [ByteBuffer] = []
        var queuedBytes = 0
        var closeReason: CloseReason?
        var isFinished = false
        var waiter: CheckedContinuation<Next, Never>?

        /// Takes what the writer should do now, or nil when it must wait.
        mutating func takeNext() -> Next? {
            if !frames.isEmpty {
                defer { frames = []; queuedBytes = 0 }
                return .frames(frames)
            }
            if isFinished { return .finished }
            if let closeReason {
                isFinished = true
                return .close(closeReason)
            }
            return nil
        }

        /// Hands the next step to a waiting writer, if there is one.
        mutating func wakeWaiter() -> (CheckedContinuation<Next, Never>, Next)? {
            guard let waiter, let next = takeNext() else { return nil }
            self.waiter = nil
            return (waiter, next)
        }
    }

    /// The connection this mailbox delivers to.
    public let connectionID: ConnectionID
    /// Bytes that may be queued before the connection is a slow consumer.
    public let capacity: Int
    private let state = Mutex(State())

    public init(connectionID: ConnectionID, capacity: Int) {
        self.connectionID = connectionID
        self.capacity = capacity
    }

    /// Queues a frame. Returns false when the frame was refused: the mailbox is closing, or
    /// this frame made it overflow (and it is now closing as a slow consumer).
    @discardableResult
    public func post(_ frame: ByteBuffer) -> Bool {
        let (accepted, wake) = state.withLock { state -> (Bool, (CheckedContinuation<Next, Never>, Next)?) in
            guard state.closeReason == nil, !state.isFinished else { return (false, nil) }
            if state.queuedBytes + frame.readableBytes > capacity {
                state.frames = []
                state.queuedBytes = 0
                state.closeReason = .slowConsumer
                return (false, state.wakeWaiter())
            }
            state.frames.append(frame)
            state.queuedBytes += frame.readableBytes
            return (true, state.wakeWaiter())
        }
        if let (waiter, next) = wake { waiter.resume(returning: next) }
        return accepted
    }

    /// Asks the writer to close the connection once what is queued is written. The first reason wins.
    public func close(_ reason: CloseReason) {
        let wake = state.withLock { state in
            if state.closeReason == nil && !state.isFinished { state.closeReason = reason }
            return state.wakeWaiter()
        }
        if let (waiter, next) = wake { waiter.resume(returning: next) }
    }

    /// Ends the mailbox: the writer stops after what is queued; later posts are refused.
    public func finish() {
        let wake = state.withLock { state in
            state.isFinished = true
            return state.wakeWaiter()
        }
        if let (waiter, next) = wake { waiter.resume(returning: next) }
    }

    /// The reason the mailbox is closing, if it is.
    public var closeReason: CloseReason? { state.withLock { $0.closeReason } }

    /// Waits for queued frames, a close request or the end. Cancellation finishes the mailbox.
    public func next() async -> Next {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Next, Never>) in
                let ready = state.withLock { state -> Next? in
                    if let next = state.takeNext() { return next }
                    state.waiter = continuation
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            finish()
        }
    }
}
