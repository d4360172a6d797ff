import Foundation
import HeraldLambda
import Logging

// One binary for every function of the AWS shape (deploy/aws/template.yaml): the function's
// `Handler` (`_HANDLER`) picks the code — websocket, authorizer, router, fanout or test-token. It exits 0 never (Lambda's loop has no end) and 1 when the function cannot start
// or the Runtime API is gone, having said why on standard error (CloudWatch Logs).
let environment = ProcessInfo.processInfo.environment
let logger = Logger(label: "herald.lambda")
guard let api = environment["AWS_LAMBDA_RUNTIME_API"] else {
    FileHandle.standardError.write(Data("herald-lambda runs inside AWS Lambda (AWS_LAMBDA_RUNTIME_API is not set)\n".utf8))
    exit(1)
}
let ending = await LambdaRuntime(api: api, logger: logger).run {
    () async throws(LambdaError) -> any LambdaHandler in
    try await LambdaFunctions.handler(named: environment["_HANDLER"] ?? "", environment: environment)
}
switch ending {
case .served:
    exit(0)
case .failedToStart:
    exit(1)
case .lostRuntimeAPI(let reason):
    FileHandle.standardError.write(Data("herald-lambda: the Runtime API at \(api) is gone: \(reason)\n".utf8))
    exit(1)
}
