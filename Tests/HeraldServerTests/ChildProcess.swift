import Foundation
import Synchronization

/// Runs a command to its end without blocking a thread of Swift's concurrency pool (which has
/// one thread per core: a test that blocks one in `waitUntilExit` stalls every other test), and
/// returns its exit status and output. Terminated after `timeout`.
func runToEnd(
    _ executable: String,
    _ arguments: [String],
    timeout: Duration = .seconds(60)
) async throws -> (status: Int32, output: String, errors: String) {
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

/// One pipe per watcher, open for as long as this test process lives: each watcher waits for
/// its pipe to close. The writing ends are close-on-exec, so no child (nor a server a watcher
/// starts) holds one open; Foundation closes each reading end here once its watcher has it.
private let lifelines = Mutex<[Pipe]>([])

/// Starts `command` (a shell command line) in the background, and stops it with `signal`, then
/// runs `cleanup`, once this test process has ended, however it ended: the watcher reads a pipe
/// only this process writes to, and the kernel closes it when the process goes (a zombie
/// included). With `user`, runs as that user (`runuser`; the tests run as root in CI).
func startWatched(_ command: String, stoppedWith signal: String = "TERM", thenRun cleanup: String = "", as user: String? = nil) throws -> Process {
    let watcher = """
        \(command) </dev/null &
        server=$!
        cat >/dev/null
        kill -\(signal) $server; wait $server; \(cleanup)
        """
    let process = Process()
    process.executableURL = URL(fileURLWithPath: user == nil ? "/bin/sh" : "/usr/sbin/runuser")
    process.arguments = (user.map { ["-u", $0, "--", "/bin/sh"] } ?? []) + ["-c", watcher]
    let lifeline = Pipe()
    _ = fcntl(lifeline.fileHandleForWriting.fileDescriptor, F_SETFD, FD_CLOEXEC)
    lifelines.withLock { $0.append(lifeline) }
    process.standardInput = lifeline
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    return process
}

/// A port nothing listens on now (the kernel's pick for a socket bound to port 0 on 127.0.0.1).
func freePort() throws -> Int {
    let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(socket) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0 }
    }
    guard bound else { throw TestFailure("no free port on 127.0.0.1") }
    return Int(UInt16(bigEndian: address.sin_port))
}
