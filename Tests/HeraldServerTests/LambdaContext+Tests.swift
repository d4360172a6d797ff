import HeraldCore
import HeraldLambda
import Logging

extension LambdaHandler {
    /// One invocation as Lambda makes it, with a minute to run.
    func handle(_ event: JSONValue) async throws -> JSONValue {
        try await handle(event, context: LambdaContext(requestID: "test-invocation", deadline: .now + .seconds(60)))
    }
}

extension LogRecords {
    /// A logger whose every line lands here.
    var logger: Logger { Logger(label: "test") { _ in RecordingLogHandler(records: self) } }
    /// The lines whose message is `message`.
    func lines(_ message: String) -> [Line] { lines.filter { $0.message == message } }
}
