import HeraldCore
import NIOCore
import Testing

/// What the connection does with the client's messages and pings: the rate limit, pongs, and
/// holding messages while a subscribe waits for the hook.
@Suite struct ConnectionInboundTests {
    private typealias Order = SessionStateMachine.SubscribeOrder
    private let at = MachineFixtures.at
    private let text = MachineFixtures.text
    private let entity = MachineFixtures.entity

    @Test func pingsArePongedWithTheirPayload() {
        var machine = MachineFixtures.machine()
        #expect(
            machine.handle(.pingReceived(ByteBuffer(string: "hi")), at: at(1)) == [
                .write(WireFrame(.pong, payload: ByteBuffer(string: "hi"))), .flush,
            ]
        )
    }

    /// Two a second, a burst of two: the third message is answered `rate_limited`, a ping over
    /// the limit is dropped; a second's worth refused in a row closes with 1008.
    @Test func theRateLimitRefusesThenCloses() {
        var configuration = MachineFixtures.configuration
        configuration.maxMessagesPerSecond = 2
        var machine = MachineFixtures.machine(configuration)
        let ping = text(#"{"action":"ping"}"#)
        #expect(machine.handle(ping, at: at(0)) == [.write(Push.pong(requestID: nil)), .flush])
        #expect(machine.handle(ping, at: at(0)) == [.write(Push.pong(requestID: nil)), .flush])
        #expect(
            machine.handle(ping, at: at(0)) == [
                .count(.messageRateLimited),
                .write(Push.error(ProtocolError(.rateLimited, "more than 2 messages per second; this one was dropped"))), .flush,
            ]
        )
        #expect(machine.handle(.pingReceived(ByteBuffer()), at: at(0)) == [.count(.pingRateLimited)])
        #expect(
            machine.handle(ping, at: at(0)) == [
                .count(.closedForFlooding), .sendClose(.close(.policyViolation), then: .shutOutput),
                .setDeadline(.closeTimeout, at: MachineFixtures.ns(5)), .resumeReading,
            ]
        )
        // Half a second later a token is back: but the connection is closing.
        #expect(machine.handle(ping, at: at(500)).isEmpty)
    }

    @Test func aSubscribeAnsweredByTheBrokerIsAckedAndFlushed() {
        var machine = MachineFixtures.machine()
        #expect(
            machine.handle(text(#"{"action":"subscribe","entityIds":["a","b"],"since":1}"#), at: at(1)) == [
                .subscribe(Order(entity: entity("a"), since: 1)), .subscribe(Order(entity: entity("b"), since: 1)),
            ]
        )
        let replay = Replay(frames: [.text(ByteBuffer(string: "m2"))], recovered: true, epoch: "e")
        #expect(
            machine.handle(.subscribed(Order(entity: entity("a"), since: 1), replay), at: at(1)) == [
                .write(Push.subscribed(entity("a"), recovered: true, epoch: "e", requestID: nil)), .write(.text(ByteBuffer(string: "m2"))), .flush,
            ]
        )
    }

    /// While the hook is asked, reading pauses and what arrives is held; once it answers, the
    /// subscribe is answered first, then the held messages in order, until one asks again.
    @Test func messagesWaitForTheHookInOrder() {
        var machine = MachineFixtures.machine(asksHook: true)
        #expect(machine.handle(text(#"{"action":"subscribe","entityId":"x","requestId":1}"#), at: at(1)) == [.pauseReading, .askHook([entity("x")])])
        #expect(machine.handle(text(#"{"action":"ping","requestId":2}"#), at: at(2)).isEmpty)
        #expect(machine.handle(text(#"{"action":"subscribe","entityId":"y","requestId":3}"#), at: at(3)).isEmpty)
        #expect(machine.handle(text(#"{"action":"ping","requestId":4}"#), at: at(4)).isEmpty)
        #expect(
            machine.handle(.hookAnswered([entity("x"): true]), at: at(5)) == [
                .subscribe(Order(entity: entity("x"), requestID: .int(1))), .resumeReading,
                .write(Push.pong(requestID: .int(2))), .flush,
                .pauseReading, .askHook([entity("y")]),
            ]
        )
        #expect(
            machine.handle(.hookAnswered([:]), at: at(6)) == [
                .write(Push.error(ProtocolError(.forbidden, "this token does not allow subscribing to y", requestID: .int(3)))), .flush,
                .resumeReading,
                .write(Push.pong(requestID: .int(4))), .flush,
            ]
        )
    }

    @Test func tooManyHeldMessagesClose1008AndACloseDropsWhatWasHeld() {
        var configuration = MachineFixtures.configuration
        configuration.maxHeldMessages = 2
        var machine = MachineFixtures.machine(configuration, asksHook: true)
        _ = machine.handle(text(#"{"action":"subscribe","entityId":"x"}"#), at: at(1))
        #expect(machine.handle(text(#"{"action":"ping"}"#), at: at(2)).isEmpty)
        #expect(machine.handle(.binaryReceived, at: at(2)).isEmpty)
        #expect(machine.handle(text(#"{"action":"ping"}"#), at: at(3)).first == .sendClose(.close(.policyViolation), then: .shutOutput))
        // The answer of a closed connection is not acted on.
        #expect(machine.handle(.hookAnswered([entity("x"): true]), at: at(4)).isEmpty)
    }

    @Test func aRefreshForAnotherUserIsForbiddenAndBinaryIsUnsupported() {
        var machine = MachineFixtures.machine()
        _ = machine.handle(text(#"{"action":"refresh","token":"t"}"#), at: at(1))
        #expect(
            MachineFixtures.written(machine.handle(.tokenVerified(userID: UserID("v")!, expiresAt: 1, allowedEntities: nil), at: at(1))) == [
                #"{"type":"error","code":"forbidden","message":"the new token belongs to another user"}"#
            ]
        )
        #expect(
            MachineFixtures.written(machine.handle(.binaryReceived, at: at(2))) == [
                #"{"type":"error","code":"unsupported_frame","message":"binary frames are not supported; send JSON text frames"}"#
            ]
        )
    }
}
