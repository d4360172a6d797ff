/// What a resuming subscriber is sent after its ack: the events it missed, oldest first.
public struct Replay: Equatable, Sendable {
    /// The missed events' frames, in `seq` order.
    public var frames: [WireFrame]
    /// False when events were missed that cannot be replayed (history evicted or stream reset).
    public var recovered: Bool

    public init(frames: [WireFrame], recovered: Bool) {
        self.frames = frames
        self.recovered = recovered
    }

    /// A plain subscribe: nothing to replay, nothing lost.
    public static let none = Replay(frames: [], recovered: true)
}
