import Testing

@testable import HeraldPostgres

/// A window behind a reference, so `#expect` can call its mutating method.
private final class Window {
    var state: ReplayWindow
    init(first: UInt64) { state = ReplayWindow(first: first) }
    func accept(_ counter: UInt64) -> Bool { state.accept(counter) }
    var newest: UInt64 { state.newest }
}

@Suite struct ReplayWindowTests {
    @Test func eachCounterIsAcceptedOnceInWhateverOrder() {
        let window = Window(first: 10)
        #expect(!window.accept(10))
        for counter: UInt64 in [12, 11, 15, 13, 14, 9, 1] { #expect(window.accept(counter), "\(counter)") }
        for counter: UInt64 in [9, 10, 11, 12, 13, 14, 15, 1] { #expect(!window.accept(counter), "\(counter) again") }
        #expect(window.newest == 15)
    }

    @Test func aCounterTooFarBehindTheNewestIsRefused() {
        let window = Window(first: 1)
        #expect(window.accept(1 + ReplayWindow.size))
        #expect(!window.accept(1), "exactly the window size behind: already out")
        #expect(window.accept(2), "within the window, not heard yet")
        #expect(!window.accept(2))
    }

    /// Marks move with the newest across word boundaries and by more than the window.
    @Test(arguments: [1, 63, 64, 65, 127, 128, 1_000, 4_095, 4_096, 10_000] as [UInt64])
    func marksMoveWithTheNewest(step: UInt64) {
        let window = Window(first: 100_000)
        var accepted: [UInt64] = [100_000]
        for counter in stride(from: 100_000 + step, through: 100_000 + 20 * step, by: Int(step)) {
            #expect(window.accept(counter))
            accepted.append(counter)
        }
        for counter in accepted where window.newest - counter < ReplayWindow.size { #expect(!window.accept(counter), "\(counter) again") }
        for counter in accepted.map({ $0 + 1 })
        where !accepted.contains(counter) && counter < window.newest && window.newest - counter < ReplayWindow.size {
            #expect(window.accept(counter), "\(counter) never heard")
        }
    }
}
