extension Session {
    /// What the transport must do before a message is done with (it owns tokens and HTTP).
    public enum Followup: Equatable, Sendable {
        /// Verify the token of a `refresh`.
        case refresh(RefreshRequest)
        /// Ask the authorisation hook about `request.askHook`, then call `hookAnswered(_:answers:)`.
        case authorise(SubscribeRequest)
    }

    /// A `refresh` the transport must verify (token checks live outside the core).
    public struct RefreshRequest: Equatable, Sendable {
        public var token: String
        public var requestID: JSONValue?

        public init(token: String, requestID: JSONValue?) {
            self.token = token
            self.requestID = requestID
        }
    }

    /// A `subscribe` that waits for the authorisation hook.
    public struct SubscribeRequest: Equatable, Sendable {
        /// A `subscribe` with `since`.
        public struct Resume: Equatable, Sendable {
            public var since: Int
            /// The epoch of the ack under which the client saw `since` (nil: `since` alone decides).
            public var epoch: String?
        }

        /// Every entity of the message, in order.
        public var entities: [EntityID]
        public var resume: Resume?
        public var requestID: JSONValue?
        /// The entities to ask the hook about (each once, only as many as the connection has room for).
        public var askHook: [EntityID] = []
        /// The hook's remembered answers for other entities of the message.
        public var remembered: [EntityID: Bool] = [:]
    }
}
