import Synchronization
import Testing

@testable import HeraldServer

/// The node-wide bound on authorisation-hook calls: at most `limit` hold a slot, the others wait
/// in the order they came, and a cancelled waiter leaves the line without taking a slot.
@Suite struct HookCallSlotsTests {
    @Test func callsBeyondTheLimitWaitInOrder() async throws {
        let slots = HookCallSlots(limit: 2)
        let first = await slots.acquire()
        let second = await slots.acquire()
        #expect(first && second)
        let order = Arrivals()
        var waiters: [Task<Bool, Never>] = []
        for index in 0..<3 {
            waiters.append(
                Task {
                    let got = await slots.acquire()
                    order.list.withLock { $0.append(index) }
                    return got
                }
            )
            try await waitUntil("waiter \(index) is in line") { slots.waiting == index + 1 }
        }
        #expect(slots.inUse == 2 && order.list.withLock { $0 }.isEmpty)
        // The middle one gives up: it leaves the line without a slot.
        waiters[1].cancel()
        #expect(await waiters[1].value == false)
        #expect(slots.waiting == 2)
        slots.release()
        #expect(await waiters[0].value == true)
        slots.release()
        #expect(await waiters[2].value == true)
        #expect(order.list.withLock { $0 } == [1, 0, 2] && slots.inUse == 2 && slots.waiting == 0)
        slots.release()
        slots.release()
        #expect(slots.inUse == 0)
    }

    @Test func aCallCancelledBeforeItArrivesGetsNoSlot() async throws {
        let slots = HookCallSlots(limit: 1)
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return await slots.acquire()
        }
        #expect(await task.value == false)
        #expect(slots.inUse == 0 && slots.waiting == 0)
        #expect(await slots.acquire())
    }
}

/// The order in which waiting calls got their answer.
private final class Arrivals: Sendable {
    let list = Mutex<[Int]>([])
}
