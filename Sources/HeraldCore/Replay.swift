/// What a subscriber is told after a `subscribe`: the epoch of the entity's stream (its ack
/// carries it) and, when it resumes, the events it missed, oldest first.
public struct Replay: Equatable, Sendable {
    /// The missed events' frames, in `seq` order.
    public var frames: [WireFrame]
    /// False when events were missed that cannot be replayed (history evicted, stream reset, or
    /// the client's `seq`s belong to another epoch).
    public var recovered: Bool
    /// The epoch of the entity's stream now.
    public var epoch: String

    public init(frames: [WireFrame], recovered: Bool, epoch: String) {
        self.frames = frames
        self.recovered = recovered
        self.epoch = epoch
    }

    /// A plain subscribe to a stream of `epoch`: nothing to replay, nothing lost.
    public static func none(epoch: String) -> Replay {
        Replay(frames: [], recovered: true, epoch: epoch)
    }
}
