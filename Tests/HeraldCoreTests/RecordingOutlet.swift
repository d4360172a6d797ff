import HeraldCore
import NIOCore
import Synchronization

/// An outlet that records what it is given, on an event loop the test runs by hand.
final class RecordingOutlet: Outlet {
    let connectionID = ConnectionID.next()
    let eventLoop: any EventLoop
    private let record = Mutex<(frames: [WireFrame], calls: [String], closes: [CloseReason])>(([], [], []))

    init(on eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func write(_ frame: WireFrame) {
        record.withLock {
            $0.frames.append(frame)
            $0.calls.append("write")
        }
    }

    func flush() { record.withLock { $0.calls.append("flush") } }
    func close(_ reason: CloseReason) { record.withLock { $0.closes.append(reason) } }

    /// The payloads sent so far, as text.
    var texts: [String] { record.withLock { $0.frames.map { String(buffer: $0.payload) } } }
    var frames: [WireFrame] { record.withLock { $0.frames } }
    var closes: [CloseReason] { record.withLock { $0.closes } }
    /// "write" and "flush", in the order they were called.
    var calls: [String] { record.withLock { $0.calls } }
}
