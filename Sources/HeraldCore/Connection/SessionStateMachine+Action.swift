extension SessionStateMachine {
    /// What the transport does for the session, in order.
    public enum Action: Equatable, Sendable {
        /// Sends this frame to the client.
        case write(WireFrame)
        /// Registers the connection as a subscriber of `order.entity` (with the broker, or in the
        /// table), finds what it missed after `order.since`, and answers `subscribed(order, replay)`.
        case subscribe(SubscribeOrder)
        /// Removes the connection from the subscribers of these entities.
        case unsubscribe([EntityID])
        /// Verifies a `refresh` token, then answers `tokenVerified` or `tokenRefused`.
        case verifyToken(String)
        /// Asks the authorisation hook about these entities, then answers `hookAnswered`.
        case askHook([EntityID])
        /// A `refresh` replaced the token: its `exp` (the server moves its `4001` deadline) and
        /// the entities it allows (a shape that keeps them between messages stores them).
        case tokenReplaced(expiresAt: Int, allowedEntities: EntityPatterns?)
    }

    /// One entity of a `subscribe` to register: a new subscription (resumed from `since` when
    /// given), or one the connection holds already (no `since`: it missed nothing).
    public struct SubscribeOrder: Equatable, Sendable {
        public var entity: EntityID
        /// The last `seq` the client saw; nil: nothing to replay.
        public var since: Int?
        /// The epoch of the ack under which the client saw `since` (nil: `since` alone decides).
        public var epoch: String?
        /// What the ack echoes.
        public var requestID: JSONValue?

        public init(entity: EntityID, since: Int? = nil, epoch: String? = nil, requestID: JSONValue? = nil) {
            self.entity = entity
            self.since = since
            self.epoch = epoch
            self.requestID = requestID
        }
    }
}
