import Synchronization

/// What a `HeraldSocket` received, in arrival order.
public enum SocketEvent: Equatable, Sendable {
    case text(String)
    case binary
    /// The connection ended; the server's close code and reason when it sent one.
    case closed(code: UInt16?, reason: String?)
}

/// A queue of received events with one waiting reader and bounded waits.
final class SocketInbox: Sendable {
    private struct State {
        var events: [SocketEvent] = []
        var isClosed = false
        var waiter: (id: UInt64, continuation: CheckedContinuation<SocketEvent?, Never>)?
        var nextWaiterID: UInt64 = 0
    }

    private let state = Mutex(State())

    func append(_ event: SocketEvent) {
        let waiter = state.withLock { state -> CheckedContinuation<SocketEvent?, Never>? in
            guard !state.isClosed else { return nil }
            if case .closed = event { state.isClosed = true }
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter.continuation
            }
            state.events.append(event)
            return nil
        }
        waiter?.resume(returning: event)
    }

    /// The next event, or nil when none arrives within `timeout`.
    func next(timeout: Duration) async -> SocketEvent? {
        await withCheckedContinuation { continuation in
            let (ready, id) = state.withLock { state -> (SocketEvent?, UInt64?) in
                if !state.events.isEmpty { return (state.events.removeFirst(), nil) }
                state.nextWaiterID += 1
                state.waiter = (state.nextWaiterID, continuation)
                return (nil, state.nextWaiterID)
            }
            if let ready { return continuation.resume(returning: ready) }
            guard let id else { return }
            Task {
                try? await Task.sleep(for: timeout)
                self.expire(id)
            }
        }
    }

    private func expire(_ id: UInt64) {
        let waiter = state.withLock { state -> CheckedContinuation<SocketEvent?, Never>? in
            guard let waiter = state.waiter, waiter.id == id else { return nil }
            state.waiter = nil
            return waiter.continuation
        }
        waiter?.resume(returning: nil)
    }
}
