import HeraldCore
import NIOCore
import Testing

@Suite struct MailboxTests {
    private func frame(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

    @Test func queuedFramesComeOutInOneBatchInOrder() async {
        let mailbox = Mailbox(connectionID: .next(), capacity: 100)
        #expect(mailbox.post(frame("a")))
        #expect(mailbox.post(frame("b")))
        #expect(await mailbox.next() == .frames([frame("a"), frame("b")]))
    }

    @Test func aWaitingWriterIsWokenByAPost() async {
        let mailbox = Mailbox(connectionID: .next(), capacity: 100)
        async let next = mailbox.next()
        // Whether the post lands before or after the writer waits, the writer gets the frame.
        mailbox.post(frame("x"))
        #expect(await next == .frames([frame("x")]))
    }

    @Test func overflowDropsTheQueueAndClosesAsSlowConsumer() async {
        let mailbox = Mailbox(connectionID: .next(), capacity: 10)
        #expect(mailbox.post(frame("12345")))
        #expect(mailbox.post(frame("67890")))
        #expect(!mailbox.post(frame("!")))
        #expect(!mailbox.post(frame("later")))
        #expect(await mailbox.next() == .close(.slowConsumer))
        #expect(await mailbox.next() == .finished)
    }

    @Test func closeWritesWhatIsQueuedFirst() async {
        let mailbox = Mailbox(connectionID: .next(), capacity: 100)
        mailbox.post(frame("last words"))
        mailbox.close(.goingAway)
        mailbox.close(.tokenExpired)  // the first reason wins
        #expect(!mailbox.post(frame("too late")))
        #expect(await mailbox.next() == .frames([frame("last words")]))
        #expect(await mailbox.next() == .close(.goingAway))
    }

    @Test func finishEndsTheWriter() async {
        let mailbox = Mailbox(connectionID: .next(), capacity: 100)
        async let next = mailbox.next()
        mailbox.finish()
        #expect(await next == .finished)
        #expect(!mailbox.post(frame("x")))
    }

    @Test func cancellingTheWriterFinishesTheMailbox() async {
        let mailbox = Mailbox(connectionID: .next(), capacity: 100)
        let writer = Task { await mailbox.next() }
        writer.cancel()
        #expect(await writer.value == .finished)
    }
}
