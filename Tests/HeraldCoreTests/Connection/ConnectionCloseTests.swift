import HeraldCore
import NIOCore
import Testing

/// The closing handshake, whoever starts it, and the end of the connection.
@Suite struct ConnectionCloseTests {
    private let at = MachineFixtures.at
    private let ns = MachineFixtures.ns

    @Test func aServerCloseSendsItsFrameShutsTheOutputAndWaitsAtMostTheCloseTimeout() {
        var machine = MachineFixtures.machine()
        #expect(
            machine.handle(.closeRequested(.disconnectedByAdmin), at: at(10)) == [
                .sendClose(.close(.disconnectedByAdmin), then: .shutOutput), .setDeadline(.closeTimeout, at: ns(15)), .resumeReading,
            ]
        )
        #expect(!machine.isOpen && machine.closeCode == 4003)
        // Closing: nothing more is answered or written, and a second close starts nothing.
        #expect(machine.handle(MachineFixtures.text(#"{"action":"ping"}"#), at: at(11)).isEmpty)
        #expect(machine.handle(.pingReceived(ByteBuffer()), at: at(11)).isEmpty)
        #expect(machine.handle(.postRequested(.text(ByteBuffer(string: "x"))), at: at(11)).isEmpty)
        #expect(machine.handle(.closeRequested(.goingAway), at: at(12)).isEmpty)
        #expect(machine.handle(.inputBroken(.protocolError), at: at(12)).isEmpty)
        // The client's close completes the handshake; without one, the close timeout closes the socket.
        var other = machine
        #expect(other.handle(.closeReceived(ByteBuffer(bytes: [0x03, 0xE8])), at: at(13)) == [.closeSocket])
        #expect(machine.handle(.deadlineReached(.closeTimeout), at: at(15)) == [.closeSocket])
        #expect(
            machine.handle(.socketClosed, at: at(16)) == [
                .cancelDeadline(.tokenExpiry), .cancelDeadline(.lifetime), .cancelDeadline(.ping), .cancelDeadline(.closeTimeout), .cancelHook,
                .ended(closeCode: 4003),
            ]
        )
        #expect(machine.handle(.deadlineReached(.closeTimeout), at: at(20)).isEmpty)
    }

    @Test func aClientCloseIsAnsweredWithItsOwnCodeThenTheSocketCloses() {
        var machine = MachineFixtures.machine()
        var payload = ByteBuffer()
        payload.writeInteger(UInt16(4321))
        payload.writeString("bye")
        var echo = ByteBuffer()
        echo.writeInteger(UInt16(4321))
        #expect(machine.handle(.closeReceived(payload), at: at(1)) == [.sendClose(WireFrame(.close, payload: echo), then: .closeSocket)])
        #expect(machine.closeCode == 4321)
        var empty = MachineFixtures.machine()
        #expect(empty.handle(.closeReceived(ByteBuffer()), at: at(1)) == [.sendClose(WireFrame(.close, payload: ByteBuffer()), then: .closeSocket)])
        #expect(empty.handle(.socketClosed, at: at(2)).last == .ended(closeCode: 1005))
    }

    @Test func anInvalidClientCloseIsAnsweredWithTheCodeItEarns() {
        var badCode = MachineFixtures.machine()
        #expect(
            badCode.handle(.closeReceived(ByteBuffer(bytes: [0x03, 0xED])), at: at(1)) == [
                .sendClose(.close(.protocolError("close code 1005 is not allowed")), then: .closeSocket)
            ]
        )
        var badText = MachineFixtures.machine()
        #expect(
            badText.handle(.closeReceived(ByteBuffer(bytes: [0x03, 0xE8, 0xFF])), at: at(1)) == [
                .sendClose(.close(CloseReason(code: 1007, text: "close reason is not valid UTF-8")), then: .closeSocket)
            ]
        )
    }

    @Test func aSocketThatDropsEndsWith1006AndLeavesItsSubscriptions() {
        var machine = MachineFixtures.machine()
        _ = machine.handle(MachineFixtures.text(#"{"action":"subscribe","entityId":"a"}"#), at: at(1))
        #expect(
            machine.handle(.socketClosed, at: at(2)) == [
                .cancelDeadline(.tokenExpiry), .cancelDeadline(.lifetime), .cancelDeadline(.ping), .cancelDeadline(.closeTimeout), .cancelHook,
                .unsubscribe([MachineFixtures.entity("a")]), .ended(closeCode: 1006),
            ]
        )
        #expect(machine.handle(.socketClosed, at: at(3)).isEmpty)
    }

    @Test func brokenInputClosesWithItsCodeAndAHalfCloseClosesTheSocket() {
        var machine = MachineFixtures.machine()
        #expect(machine.handle(.inputBroken(.messageTooBig), at: at(1)).first == .sendClose(.close(.messageTooBig), then: .shutOutput))
        var halfClosed = MachineFixtures.machine()
        #expect(halfClosed.handle(.inputClosed, at: at(1)) == [.closeSocket])
        #expect(halfClosed.handle(.failed, at: at(1)) == [.closeSocket])
    }

    @Test func aTextMessageThatIsNotUTF8Closes1007() {
        var machine = MachineFixtures.machine()
        #expect(
            machine.handle(.textReceived(ByteBuffer(bytes: [0x7B, 0xC3])), at: at(1)).first == .sendClose(.close(.invalidText), then: .shutOutput)
        )
    }

    @Test func aSlowConsumerIsCountedAndClosed1013() {
        var machine = MachineFixtures.machine()
        #expect(
            machine.handle(.writabilityLost, at: at(1)) == [
                .count(.slowConsumerDisconnected), .sendClose(.close(.slowConsumer), then: .shutOutput), .setDeadline(.closeTimeout, at: ns(6)),
                .resumeReading,
            ]
        )
        #expect(machine.handle(.writabilityLost, at: at(2)).isEmpty)
    }
}
