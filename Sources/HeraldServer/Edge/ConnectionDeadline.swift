import NIOCore

/// The deadlines of one connection before it is a WebSocket, as a value: events in (bytes,
/// the HTTP exchange's progress, the timer), actions out, time passed in.
///
/// - From accept, the whole request head must arrive within `request` (the TLS handshake included:
///   the clock starts at accept, before any protocol).
/// - From a request's head, its whole body must arrive within `body`.
/// - While a response is being made, nothing times out.
/// - Between requests, an HTTP keep-alive connection may stay idle for `keepAlive`; its next
///   request's head then has `request` from its first byte.
/// - After a response that said `Connection: close`, the output is closed and what the client
///   still sends is read and dropped for at most `lingerTime` or `lingerBytes` (so the client
///   sees the response rather than a reset), then the socket is closed.
/// - The connection counts as pending (`--max-pending-connections`) until it is upgraded or its
///   first response is written.
struct ConnectionDeadline {
    struct Timeouts: Equatable, Sendable {
        var request: TimeAmount
        var body: TimeAmount
        var keepAlive: TimeAmount
        var lingerTime: TimeAmount = .seconds(2)
        /// Enough for a body many times the largest accepted (256 KiB) to be drained without a reset.
        var lingerBytes = 4 << 20
    }

    /// Why a connection was closed before it was served: the label of `herald_shed_connections_total`.
    enum ShedReason: String, CaseIterable, Sendable {
        /// `--max-pending-connections` were already pending at accept.
        case pendingLimit = "pending_limit"
        case requestTimeout = "request_timeout"
        case bodyTimeout = "body_timeout"
        case keepAliveTimeout = "keep_alive_timeout"
    }

    enum Action: Equatable {
        /// Have `deadlinePassed` called at this instant (replacing any earlier request).
        case arm(NIODeadline)
        /// The pending slot this connection held is free.
        case releasePending
        /// Drop the bytes just received instead of passing them on.
        case discard
        /// Send FIN after the response: the client reads it to the end, then sees the close.
        case closeOutput
        /// Close the socket and count it.
        case shed(ShedReason)
        /// Close the socket (nothing to count).
        case close
        /// The connection is a WebSocket now: the deadlines are over.
        case remove
    }

    private enum Phase: Equatable {
        /// Waiting for a request head: the first since accept, or the next after bytes arrived on an idle connection.
        case awaitingHead
        /// Between heads and their ends, or responses still owed.
        case exchanging
        /// Every request answered, nothing arrived since.
        case idle
        /// A `Connection: close` response was written; dropping input until the socket is closed.
        case lingering
        case finished
    }

    let timeouts: Timeouts
    private var phase = Phase.awaitingHead
    private var deadline: NIODeadline
    private var requestsStarted = 0
    private var requestsRead = 0
    private var responsesSent = 0
    private var holdsPendingSlot = true
    private var inputClosed = false
    private var discarded = 0

    /// A connection accepted at `now`, holding a pending slot.
    init(timeouts: Timeouts, acceptedAt now: NIODeadline) {
        self.timeouts = timeouts
        deadline = now + timeouts.request
    }

    /// The instant the first `deadlinePassed` should come.
    var firstDeadline: NIODeadline { deadline }

    /// Raw bytes arrived (before TLS).
    mutating func bytesReceived(_ count: Int, now: NIODeadline) -> [Action] {
        switch phase {
        case .idle:
            phase = .awaitingHead
            deadline = now + timeouts.request
            return [.arm(deadline)]
        case .lingering:
            discarded += count
            guard discarded > timeouts.lingerBytes else { return [.discard] }
            phase = .finished
            return [.discard, .close]
        case .awaitingHead, .exchanging, .finished:
            return []
        }
    }

    mutating func requestHeadReceived(now: NIODeadline) -> [Action] {
        guard phase != .lingering, phase != .finished else { return [] }
        requestsStarted += 1
        phase = .exchanging
        deadline = now + timeouts.body
        return [.arm(deadline)]
    }

    mutating func requestBodyReceived(now: NIODeadline) -> [Action] {
        guard phase == .exchanging else { return [] }
        requestsRead += 1
        return settle(now: now)
    }

    /// A response was written to its end; `closing` when it said `Connection: close`.
    mutating func responseSent(closing: Bool, now: NIODeadline) -> [Action] {
        guard phase != .lingering, phase != .finished else { return [] }
        responsesSent += 1
        let released = releasingPendingSlot()
        if inputClosed, responsesSent >= requestsStarted {
            phase = .finished
            return released + [.close]
        }
        if closing {
            phase = .lingering
            deadline = now + timeouts.lingerTime
            return released + [.closeOutput, .arm(deadline)]
        }
        return released + settle(now: now)
    }

    mutating func upgraded() -> [Action] {
        guard phase != .finished else { return [] }
        phase = .finished
        return releasingPendingSlot() + [.remove]
    }

    /// The client closed its side (half-closure, or EOF).
    mutating func inputEnded() -> [Action] {
        inputClosed = true
        switch phase {
        case .exchanging where requestsRead == requestsStarted:
            return []  // the request is complete: its response still goes out, then the socket closes
        case .finished:
            return []
        case .awaitingHead, .exchanging, .idle, .lingering:
            phase = .finished
            return [.close]
        }
    }

    /// The server is shutting down: a connection that is not in the middle of an exchange goes now.
    mutating func quiesced() -> [Action] {
        switch phase {
        case .awaitingHead, .idle:
            phase = .finished
            return [.close]
        case .exchanging, .lingering, .finished:
            return []
        }
    }

    /// The timer fired; it may be stale (the deadline moved on since it was armed).
    mutating func deadlinePassed(now: NIODeadline) -> [Action] {
        guard phase != .finished else { return [] }
        guard now >= deadline else { return [.arm(deadline)] }
        switch phase {
        case .awaitingHead:
            phase = .finished
            return [.shed(.requestTimeout)]
        case .exchanging:
            // Only a body still being read has a deadline; a response being made has none.
            guard requestsRead < requestsStarted else { return [] }
            phase = .finished
            return [.shed(.bodyTimeout)]
        case .idle:
            phase = .finished
            return [.shed(.keepAliveTimeout)]
        case .lingering:
            phase = .finished
            return [.close]
        case .finished:
            return []
        }
    }

    /// The socket closed: the pending slot, if still held, is free.
    mutating func closed() -> [Action] {
        phase = .finished
        return releasingPendingSlot()
    }

    /// After a body end or a response: still reading a body, still responding, or idle.
    private mutating func settle(now: NIODeadline) -> [Action] {
        if requestsRead < requestsStarted { return [] }  // a later request's body: its deadline stands
        if responsesSent < requestsStarted { return [] }  // responding: no deadline
        phase = .idle
        deadline = now + timeouts.keepAlive
        return [.arm(deadline)]
    }

    private mutating func releasingPendingSlot() -> [Action] {
        guard holdsPendingSlot else { return [] }
        holdsPendingSlot = false
        return [.releasePending]
    }
}
