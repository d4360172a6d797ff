import Synchronization

/// The node's authorisation-hook calls in flight: at most `limit` at once (`--auth-hook-concurrency`),
/// shared by every connection. A call that finds every slot taken waits for one, in the order the
/// calls came (FIFO); a waiting call whose task is cancelled (its connection closed) leaves the line.
final class HookCallSlots: Sendable {
    /// Where a call that has not got its slot yet stands.
    private enum Ticket {
        /// Not yet in the line (between `acquire` starting and its continuation).
        case arriving
        /// Cancelled while arriving: it must not join the line.
        case cancelled
        case waiting(CheckedContinuation<Bool, Never>)
    }

    private struct State {
        var available: Int
        /// Calls without a slot yet, by ticket number; the line is `line` (oldest first).
        var tickets: [UInt64: Ticket] = [:]
        var line: [UInt64] = []
        var nextTicket: UInt64 = 0
    }

    let limit: Int
    private let state: Mutex<State>

    init(limit: Int) {
        self.limit = max(1, limit)
        state = Mutex(State(available: max(1, limit)))
    }

    /// Calls holding a slot now.
    var inUse: Int { state.withLock { limit - $0.available } }
    /// Calls waiting for a slot now.
    var waiting: Int { state.withLock { $0.line.count } }

    /// Takes a slot, waiting in line for one if need be: true once it is held (give it back with
    /// `release`), false when the task was cancelled first (nothing to give back).
    func acquire() async -> Bool {
        let ticket = state.withLock { state in
            state.nextTicket += 1
            state.tickets[state.nextTicket] = .arriving
            return state.nextTicket
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                let now: Bool? = state.withLock { state in
                    if case .cancelled? = state.tickets[ticket] {
                        state.tickets[ticket] = nil
                        return false
                    }
                    if state.available > 0 {
                        state.available -= 1
                        state.tickets[ticket] = nil
                        return true
                    }
                    state.tickets[ticket] = .waiting(continuation)
                    state.line.append(ticket)
                    return nil
                }
                if let now { continuation.resume(returning: now) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Bool, Never>? in
                switch state.tickets[ticket] {
                case .arriving?:
                    state.tickets[ticket] = .cancelled
                    return nil
                case .waiting(let continuation)?:
                    state.tickets[ticket] = nil
                    state.line.removeAll { $0 == ticket }
                    return continuation
                case .cancelled?, nil:
                    return nil  // nil: it already has its slot
                }
            }
            waiter?.resume(returning: false)
        }
    }

    /// Gives a slot back: to the first call in line, if any.
    func release() {
        let next = state.withLock { state -> CheckedContinuation<Bool, Never>? in
            while !state.line.isEmpty {
                let ticket = state.line.removeFirst()
                if case .waiting(let continuation)? = state.tickets.removeValue(forKey: ticket) { return continuation }
            }
            state.available += 1
            return nil
        }
        next?.resume(returning: true)
    }
}
