import Synchronization

/// Runs `body`, or throws once `limit` has passed — without waiting for `body` to notice.
///
/// A query already sent waits for its answer whatever its task is told (postgres-nio cannot
/// take it back), so a timeout that waited for the work to end would wait as long as a dead
/// connection does. The work therefore runs in a task of its own, cancelled at the deadline and
/// left to end when its connection does.
func withTimeout<Value: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> Value) async throws -> Value {
    let outcome = FirstOutcome<Value>()
    let work = Task {
        do { outcome.resolve(.success(try await body())) } catch { outcome.resolve(.failure(error)) }
    }
    let deadline = Task {
        try? await Task.sleep(for: limit)
        outcome.resolve(.failure(PostgresBrokerError(.unexpectedAnswer, "no answer within \(limit)")))
    }
    defer {
        work.cancel()
        deadline.cancel()
    }
    return try await withTaskCancellationHandler {
        try await outcome.value()
    } onCancel: {
        outcome.resolve(.failure(CancellationError()))
    }
}

/// A result set once, by whichever outcome comes first, and awaited once.
final class FirstOutcome<Value: Sendable>: Sendable {
    private struct State {
        var result: Result<Value, any Error>?
        var waiting: CheckedContinuation<Value, any Error>?
    }

    private let state = Mutex(State())

    func resolve(_ result: Result<Value, any Error>) {
        let waiting = state.withLock { state -> CheckedContinuation<Value, any Error>? in
            guard state.result == nil else { return nil }
            state.result = result
            defer { state.waiting = nil }
            return state.waiting
        }
        waiting?.resume(with: result)
    }

    func value() async throws -> Value {
        try await withCheckedThrowingContinuation { continuation in
            let result = state.withLock { state in
                if state.result == nil { state.waiting = continuation }
                return state.result
            }
            if let result { continuation.resume(with: result) }
        }
    }
}
