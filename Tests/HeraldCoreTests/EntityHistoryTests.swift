import Foundation
import HeraldCore
import NIOCore
import Testing

@Suite struct EntityHistoryTests {
    private let start = Date(timeIntervalSince1970: 1_795_000_000)

    private func history(size: Int, ttl: Duration = .seconds(600), appending count: Int, every step: TimeInterval = 1) -> EntityHistory {
        var history = EntityHistory(limits: EntityHistory.Limits(size: size, ttl: ttl))
        for index in 0..<count {
            _ = history.append(at: start + step * TimeInterval(index)) { seq in .text(ByteBuffer(string: "\(seq)")) }
        }
        return history
    }

    private func seqs(_ replay: Replay) -> [String] {
        replay.frames.map { String(buffer: $0.payload) }
    }

    @Test func numbersEventsFromOneAndKeepsTheNewestBySize() {
        let history = history(size: 3, appending: 5)
        #expect(history.latestSeq == 5)
        #expect(history.count == 3)
        let now = start + 10
        #expect(seqs(history.replay(after: 2, now: now)) == ["3", "4", "5"])
        #expect(history.replay(after: 2, now: now).recovered)
        #expect(seqs(history.replay(after: 4, now: now)) == ["5"])
    }

    @Test func tooFarBehindReplaysTheKeptTailUnrecovered() {
        let history = history(size: 3, appending: 5)
        let replay = history.replay(after: 1, now: start + 10)
        #expect(seqs(replay) == ["3", "4", "5"])
        #expect(!replay.recovered)
    }

    @Test func upToDateIsRecoveredWithNothingToReplay() {
        let history = history(size: 3, appending: 5)
        #expect(history.replay(after: 5, now: start + 10) == Replay(frames: [], recovered: true, epoch: history.epoch))
        let empty = self.history(size: 3, appending: 0)
        #expect(empty.replay(after: 0, now: start) == .none(epoch: empty.epoch))
    }

    @Test func sinceBeyondTheLatestSeqIsAResetStream() {
        // After a restart the entity starts again from 1: a client at 40 cannot be caught up.
        let history = history(size: 100, appending: 2)
        #expect(history.replay(after: 40, now: start + 10) == Replay(frames: [], recovered: false, epoch: history.epoch))
    }

    @Test func eventsOlderThanTheTTLAreNotReplayed() {
        // Events at start+0, +30, +60, +90; at +100 with a 60 s TTL only +60 and +90 are kept.
        var history = history(size: 100, ttl: .seconds(60), appending: 4, every: 30)
        let now = start + 100
        #expect(seqs(history.replay(after: 0, now: now)) == ["3", "4"])
        #expect(!history.replay(after: 0, now: now).recovered)
        #expect(history.replay(after: 2, now: now).recovered)
        #expect(history.count == 3)  // +0 went when +90 was appended; the rest goes on eviction
        let emptyAfterFirstSweep = history.evictExpired(now: now)
        #expect(!emptyAfterFirstSweep)
        #expect(history.count == 2)
        let emptyAfterSecondSweep = history.evictExpired(now: start + 200)
        #expect(emptyAfterSecondSweep)
        #expect(history.count == 0)
        #expect(history.latestSeq == 4)
    }

    @Test func sizeZeroKeepsNothingButStillNumbers() {
        let history = history(size: 0, appending: 3)
        #expect(history.latestSeq == 3 && history.count == 0)
        #expect(history.replay(after: 3, now: start).recovered)
        #expect(history.replay(after: 2, now: start) == Replay(frames: [], recovered: false, epoch: history.epoch))
    }

    @Test func eventsNumberedElsewhereAreKeptOnceAndAGapRestartsTheKeptRun() {
        var history = EntityHistory(limits: EntityHistory.Limits(size: 10))
        let frame = { (seq: Int) in WireFrame.text(ByteBuffer(string: "\(seq)")) }
        let accepted = [1, 2, 2, 1].map { history.accept(frame($0), seq: $0, at: start) }
        #expect(accepted == [true, true, false, false], "a duplicate or older event is dropped")
        #expect(seqs(history.replay(after: 0, now: start)) == ["1", "2"])
        let afterGapAccepted = history.accept(frame(5), seq: 5, at: start)
        #expect(afterGapAccepted)
        #expect(history.latestSeq == 5)
        let afterGap = history.replay(after: 2, now: start)
        #expect(seqs(afterGap) == ["5"])
        #expect(!afterGap.recovered, "3 and 4 never arrived")
        #expect(history.replay(after: 4, now: start).recovered)
    }

    @Test func skippingAheadDropsWhatCannotBeReplayedAndNeverGoesBack() {
        var history = history(size: 10, appending: 3)
        history.skip(to: 2)
        #expect(history.latestSeq == 3 && history.count == 3)
        history.skip(to: 7)
        #expect(history.latestSeq == 7 && history.count == 0)
        #expect(history.replay(after: 7, now: start + 10).recovered)
        #expect(!history.replay(after: 3, now: start + 10).recovered)
        let next = history.append(at: start + 10) { seq in .text(ByteBuffer(string: "\(seq)")) }
        #expect(next.seq == 8)
    }
}
