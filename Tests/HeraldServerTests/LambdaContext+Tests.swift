import HeraldCore
import HeraldLambda

extension LambdaHandler {
    /// One invocation as Lambda makes it, with a minute to run.
    func handle(_ event: JSONValue) async throws -> JSONValue {
        try await handle(event, context: LambdaContext(requestID: "test-invocation", deadline: .now + .seconds(60)))
    }
}
