import Foundation
import HeraldLambda
import HeraldTokens
import Logging

// One binary for every function of the AWS shape (deploy/aws/template.yaml): the function's
// `Handler` (`_HANDLER`) picks the code — websocket, authorizer, fanout or test-token.
let environment = ProcessInfo.processInfo.environment
let logger = Logger(label: "herald.lambda")
guard let api = environment["AWS_LAMBDA_RUNTIME_API"] else {
    FileHandle.standardError.write(Data("herald-lambda runs inside AWS Lambda (AWS_LAMBDA_RUNTIME_API is not set)\n".utf8))
    exit(1)
}
let runtime = LambdaRuntime(api: api, logger: logger)
do {
    let handler = try await LambdaFunctions.handler(named: environment["_HANDLER"] ?? "", environment: environment)
    try await runtime.run(handler)
} catch let error as LambdaError {
    await runtime.failedToStart(error)
    exit(1)
}
