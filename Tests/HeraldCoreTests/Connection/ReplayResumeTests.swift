import HeraldCore
import NIOCore
import Testing

/// The one rule every shape judges a `subscribe` with `since` by (PROTOCOL.md §4).
@Suite struct ReplayResumeTests {
    private func kept(_ seqs: ClosedRange<Int>) -> [(seq: Int, frame: WireFrame)] {
        seqs.map { ($0, WireFrame.text(ByteBuffer(string: "m\($0)"))) }
    }

    private func replay(since: Int, epoch: String? = nil, latest: Int = 5, kept seqs: ClosedRange<Int>? = 3...5) -> (Bool, [String]) {
        let replay = Replay.resume(since: since, epoch: epoch, streamEpoch: "e", latestSeq: latest, kept: seqs.map(kept) ?? [])
        return (replay.recovered, replay.frames.map { String(buffer: $0.payload) })
    }

    @Test func keptEventsThatReachBackAreRecovered() {
        #expect(replay(since: 2) == (true, ["m3", "m4", "m5"]))
        #expect(replay(since: 4, epoch: "e") == (true, ["m5"]))
        #expect(replay(since: 5) == (true, []))
        #expect(replay(since: 5, kept: nil) == (true, []))
    }

    @Test func aGapAResetOrAnotherEpochIsNotRecovered() {
        #expect(replay(since: 1) == (false, ["m3", "m4", "m5"]), "the kept tail, to go on from")
        #expect(replay(since: 6) == (false, []), "beyond the latest: the stream was reset")
        #expect(replay(since: 2, epoch: "other") == (false, []))
    }
}
