extension ConnectionStateMachine {
    /// What the transport does, in order.
    public enum Action: Equatable, Sendable {
        /// Queues this frame for the client.
        case write(WireFrame)
        /// Sends what was queued.
        case flush
        /// Registers the connection as a subscriber (the broker) and answers `subscribed`.
        case subscribe(SessionStateMachine.SubscribeOrder)
        /// Removes the connection from the subscribers of these entities.
        case unsubscribe([EntityID])
        /// Verifies a `refresh` token and answers `tokenVerified` or `tokenRefused`.
        case verifyToken(String)
        /// Asks the authorisation hook about these entities (for this connection's user) and
        /// answers `hookAnswered`; reading is paused meanwhile.
        case askHook([EntityID])
        /// Stops asking the hook: the connection is gone.
        case cancelHook
        /// Stops reading from the socket (a subscribe waits for the hook; few frames queue).
        case pauseReading
        /// Reads again, and at once (what arrived meanwhile, or the input a close must drain).
        case resumeReading
        /// Writes and flushes a close frame, then does `then` once it is out.
        case sendClose(WireFrame, then: AfterClose)
        /// Closes the socket now.
        case closeSocket
        /// Sets the deadline (replacing the one of that kind), in uptime nanoseconds.
        case setDeadline(Deadline, at: UInt64)
        case cancelDeadline(Deadline)
        /// Counts something that happened.
        case count(Metric)
        /// The connection is over, with this close code (1006: none was sent or received):
        /// unregister it everywhere, count and log its end.
        case ended(closeCode: UInt16)
    }

    /// What follows a close frame once it is written.
    public enum AfterClose: Equatable, Sendable {
        /// The server closed first: shut the output side (FIN) and read the client's further
        /// input — dropped — until its close frame or EOF, or the close timeout. The close
        /// frame then reaches the client, instead of the reset that closing a socket with
        /// unread input sends.
        case shutOutput
        /// The client closed first: nothing more comes; close the socket (the server closes TCP first, RFC 6455 §7.1.1).
        case closeSocket
    }

    /// What the connection counts (OPERATIONS.md §2: `/admin/stats` refusals and `/metrics`).
    public enum Metric: Equatable, Sendable {
        /// A message over `--max-messages-per-second`, answered `rate_limited` (`message.rate_limited`).
        case messageRateLimited
        /// A ping over the limit, dropped without a pong (`ping.rate_limited`).
        case pingRateLimited
        /// A second's worth of refused messages in a row: closed with `1008` (`close.1008`).
        case closedForFlooding
        /// Closed with `1013` as a slow consumer (`herald_slow_consumer_disconnects_total`).
        case slowConsumerDisconnected
    }
}
