extension Replay {
    /// What a client that saw an entity's events up to `since` — under the stream run `epoch`,
    /// when it says — missed (PROTOCOL.md §4), given the entity's stream: its epoch, its latest
    /// `seq` and the events it keeps, oldest first. Every shape judges a resume by this rule.
    ///
    /// - A `since` of another epoch than the stream's is never recovered and replays nothing:
    ///   those `seq`s were numbered in an earlier run of the stream.
    /// - A `since` beyond the latest `seq` means the stream was reset: not recovered, nothing replayed.
    /// - Otherwise the kept events after `since` are replayed, and it is recovered when they
    ///   reach back to `since + 1` (or nothing was missed); when they do not, the kept tail is
    ///   replayed all the same, so the client can go on from it.
    public static func resume(
        since: Int,
        epoch: String?,
        streamEpoch: String,
        latestSeq: Int,
        kept: some Sequence<(seq: Int, frame: WireFrame)>
    ) -> Replay {
        if let epoch, epoch != streamEpoch { return Replay(frames: [], recovered: false, epoch: streamEpoch) }
        guard since <= latestSeq else { return Replay(frames: [], recovered: false, epoch: streamEpoch) }
        var frames: [WireFrame] = []
        var firstMissed: Int?
        for event in kept where event.seq > since {
            if firstMissed == nil { firstMissed = event.seq }
            frames.append(event.frame)
        }
        return Replay(frames: frames, recovered: since == latestSeq || firstMissed == since + 1, epoch: streamEpoch)
    }
}
