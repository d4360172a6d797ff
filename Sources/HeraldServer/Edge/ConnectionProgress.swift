/// How a connection's exchange goes, told by its protocol handlers to the `ConnectionDeadlineHandler`
/// at the head of the pipeline (fired with `pipeline.fireUserInboundEventTriggered`, which starts there).
enum ConnectionProgress: Sendable {
    /// A request's head is complete.
    case requestHeadReceived
    /// A request's body is complete.
    case requestBodyReceived
    /// A response was written to its end; `closing` when it said `Connection: close`.
    case responseSent(closing: Bool)
    /// The connection is a WebSocket now.
    case upgraded
}
