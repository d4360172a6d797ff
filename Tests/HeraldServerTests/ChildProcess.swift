import Foundation
import Synchronization

/// Runs a command to its end without blocking a thread of Swift's concurrency pool (which has
/// one thread per core: a test that blocks one in `waitUntilExit` stalls every other test), and
/// returns its exit status and output. Terminated after `timeout`.
func runToEnd(_ executable: String, _ arguments: [String], timeout: Duration = .seconds(60)) async throws -> (status: Int32, output: String, errors: String) {
    final class Collected: Sendable {
        let state = Mutex<(data: Data, ended: Bool)>((Data(), false))
        var text: String { state.withLock { String(decoding: $0.data, as: UTF8.self) } }
        var ended: Bool { state.withLock { $0.ended } }
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let (output, errors) = (Collected(), Collected())
    for (pipe, collected) in [(Pipe(), output), (Pipe(), errors)] {
        if collected === output { process.standardOutput = pipe } else { process.standardError = pipe }
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let chunk = handle.availableData
            if chunk.isEmpty { handle.readabilityHandler = nil }
            collected.state.withLock { state in
                if chunk.isEmpty { state.ended = true } else { state.data.append(chunk) }
            }
        }
    }
    try process.run()
    let deadline = ContinuousClock.now + timeout
    while process.isRunning {
        if ContinuousClock.now > deadline { process.terminate() }
        try await Task.sleep(for: .milliseconds(10))
    }
    // The rest of the output, for at most 2 s: a child it left running may hold the pipes open.
    let drained = ContinuousClock.now + .seconds(2)
    while !(output.ended && errors.ended), ContinuousClock.now < drained { try await Task.sleep(for: .milliseconds(10)) }
    return (process.terminationStatus, output.text, errors.text)
}
