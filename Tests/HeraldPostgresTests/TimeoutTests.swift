import Synchronization
import Testing

@testable import HeraldPostgres

@Suite struct TimeoutTests {
    /// Stands for a query already sent: it goes on whatever its task is told.
    private final class Gate: Sendable {
        private let opened = Mutex(false)
        var isOpen: Bool { opened.withLock { $0 } }
        func open() { opened.withLock { $0 = true } }
    }

    @Test func aBodyThatIgnoresCancellationStillTimesOutOnTime() async throws {
        let gate = Gate()
        defer { gate.open() }
        let started = ContinuousClock.now
        await #expect(throws: PostgresBrokerError.self) {
            try await withTimeout(.milliseconds(100)) {
                while !gate.isOpen { try? await Task.sleep(for: .milliseconds(10)) }
                return 1
            }
        }
        #expect(ContinuousClock.now - started < .seconds(2))
    }

    @Test func aBodyThatFinishesInTimeGivesItsValueOrItsError() async throws {
        #expect(try await withTimeout(.seconds(5)) { 42 } == 42)
        await #expect(throws: CancellationError.self) {
            try await withTimeout(.seconds(5)) { () async throws -> Int in throw CancellationError() }
        }
    }
}
