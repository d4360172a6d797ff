import HeraldCore
import NIOCore
import Testing

/// Token expiry (`4001`), lifetime (`4002`) and the idle timeout, in milliseconds of made-up time.
@Suite struct ConnectionDeadlineMachineTests {
    private let at = MachineFixtures.at
    private let ns = MachineFixtures.ns

    @Test func theTokenDeadlineIsExpPlusLeewayAndClosesWith4001() {
        var configuration = MachineFixtures.configuration
        configuration.tokenLeeway = .milliseconds(250)
        var machine = MachineFixtures.machine(configuration, expiresIn: 2)
        #expect(machine.handle(.started, at: at(0)) == [.setDeadline(.tokenExpiry, at: ns(2_250)), .setDeadline(.ping, at: ns(30))])
        #expect(
            machine.handle(.deadlineReached(.tokenExpiry), at: at(2_250)) == [
                .sendClose(.close(.tokenExpired), then: .shutOutput), .setDeadline(.closeTimeout, at: ns(2_255)), .resumeReading,
            ]
        )
    }

    /// A refresh moves the deadline to the new token's `exp`; a refused one leaves it.
    @Test func aRefreshMovesTheTokenDeadline() {
        var machine = MachineFixtures.machine(expiresIn: 1)
        _ = machine.handle(.started, at: at(0))
        #expect(machine.handle(MachineFixtures.text(#"{"action":"refresh","token":"t","requestId":1}"#), at: at(500)) == [.verifyToken("t")])
        let newExp = Int(MachineFixtures.wallAtStart) + 3
        #expect(
            machine.handle(.tokenVerified(userID: UserID("u")!, expiresAt: newExp, allowedEntities: nil), at: at(500)) == [
                .setDeadline(.tokenExpiry, at: ns(3_000)), .write(Push.refreshed(expiresAt: newExp, requestID: .int(1))), .flush,
            ]
        )
        #expect(machine.expiresAt == newExp)
        _ = machine.handle(MachineFixtures.text(#"{"action":"refresh","token":"bad"}"#), at: at(700))
        #expect(
            machine.handle(.tokenRefused(.tokenInvalid, "no"), at: at(700)) == [
                .write(Push.error(ProtocolError(.tokenInvalid, "no"))), .flush,
            ]
        )
        #expect(machine.expiresAt == newExp)
    }

    /// A token valid until the year 9999 is waited for a day at a time.
    @Test func aFarExpiryIsWaitedForADayAtATime() {
        var machine = MachineFixtures.machine(expiresIn: 400 * 86_400)
        let day = 86_400_000
        #expect(machine.handle(.started, at: at(0)).first == .setDeadline(.tokenExpiry, at: ns(day)))
        #expect(machine.handle(.deadlineReached(.tokenExpiry), at: at(day)) == [.setDeadline(.tokenExpiry, at: ns(2 * day))])
        #expect(machine.isOpen)
    }

    @Test func theLifetimeClosesWith4002() {
        var configuration = MachineFixtures.configuration
        configuration.maxLifetime = .milliseconds(40)
        var machine = MachineFixtures.machine(configuration)
        #expect(
            machine.handle(.started, at: at(0)) == [
                .setDeadline(.tokenExpiry, at: ns(3_600_000)), .setDeadline(.ping, at: ns(30)), .setDeadline(.lifetime, at: ns(40)),
            ]
        )
        #expect(machine.handle(.deadlineReached(.lifetime), at: at(40)).first == .sendClose(.close(.lifetimeReached), then: .shutOutput))
    }

    /// Pinged each `--ping-interval` it is quiet; any frame, a pong too, starts the count again;
    /// quiet for the idle timeout: `1001`. One deadline, moved when it is reached, not per frame.
    @Test func aQuietClientIsPingedThenClosedAtTheIdleTimeout() {
        var machine = MachineFixtures.machine()  // ping every 30 ms, idle after 90 ms
        let ping: [ConnectionStateMachine.Action] = [.write(WireFrame(.ping, payload: ByteBuffer())), .flush]
        #expect(machine.handle(.started, at: at(0)).last == .setDeadline(.ping, at: ns(30)))
        #expect(machine.handle(.deadlineReached(.ping), at: at(30)) == ping + [.setDeadline(.ping, at: ns(60))])
        #expect(machine.handle(.deadlineReached(.ping), at: at(60)) == ping + [.setDeadline(.ping, at: ns(90))])
        #expect(machine.handle(.pongReceived, at: at(70)).isEmpty)
        #expect(machine.lastActiveAt == MachineFixtures.wallAtStart + 0.07)
        // Heard 20 ms ago: look again 30 ms after that.
        #expect(machine.handle(.deadlineReached(.ping), at: at(90)) == [.setDeadline(.ping, at: ns(100))])
        #expect(machine.handle(.deadlineReached(.ping), at: at(100)) == ping + [.setDeadline(.ping, at: ns(130))])
        #expect(machine.handle(.deadlineReached(.ping), at: at(130)) == ping + [.setDeadline(.ping, at: ns(160))])
        #expect(machine.handle(.deadlineReached(.ping), at: at(160)).first == .sendClose(.close(.idle), then: .shutOutput))
    }
}
