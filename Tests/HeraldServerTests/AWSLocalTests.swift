import Foundation
import HeraldClient
import HeraldCore
import HeraldTokens
import Testing

/// The AWS shape run whole on this machine (deploy/aws/local/herald-aws-local.py): moto, the
/// WebSocket front, the publish API, SQS polling and the herald-lambda binary behind a Runtime
/// API per function, frozen between invocations — driven from outside as a client and a backend
/// would drive the deployed stack.
@Suite struct AWSLocalTests {
    static let script = AWSTemplateTests.folder.appending(path: "local/herald-aws-local.py")
    static let secret = "local-secret-0123456789abcdef-0123456789abcdef"
    static let publishKey = "local-publish-key"

    struct Local {
        let process: HeraldProcess
        let wsURL: String
        let publish: PublishClient

        static func start() async throws -> Local {
            let process = try HeraldProcess(
                URL(fileURLWithPath: "/usr/bin/env"),
                [
                    "python3", script.path, "--port", "0", "--jwt-secret", secret, "--publish-key", publishKey, "--binary",
                    LambdaRuntimeTests.binary.path,
                ],
                environment: [:]
            )
            guard let listening = await process.line(timeout: .seconds(60)), listening.hasPrefix("listening on ws://127.0.0.1:"),
                let publishLine = await process.line(timeout: .seconds(5)), publishLine.hasPrefix("publish API at ")
            else {
                process.signal(SIGKILL)
                throw TestFailure("herald-aws-local did not start: \(process.standardErrorSoFar)")
            }
            return Local(
                process: process,
                wsURL: String(listening.dropFirst("listening on ".count)),
                publish: PublishClient(baseURL: String(publishLine.dropFirst("publish API at ".count).dropLast()), publishKey: publishKey)
            )
        }

        func connect(_ user: String) async throws -> HeraldSocket {
            var claims = TokenIssuer.Claims()
            claims.userID = user
            return try await HeraldSocket.connect(url: wsURL + "?access_token=" + (try await TokenIssuer(secret: secret).token(for: claims)))
        }

        func stop() async {
            process.signal(SIGTERM)
            _ = await process.exitCode(killingAfter: .seconds(15))
        }
    }

    @Test func aClientAndABackendUseTheWholeShape() async throws {
        let local = try await Local.start()
        let ada = try await local.connect("ada")
        ada.send(#"{"action":"subscribe","entityId":"order-7","requestId":1}"#)
        let ack = try await ada.json(timeout: .seconds(30))
        #expect(ack["type"] == "subscribed" && ack["recovered"] == .bool(true) && ack["requestId"] == .int(1))
        let published = try await local.publish.post("/entities/order-7/updates", body: Array(#"{"message":"m1"}"#.utf8))
        #expect(published.status == 202)
        let receipt = JSON.parse(Array(published.body.utf8))
        let push = try await ada.json(timeout: .seconds(30))
        #expect(push["type"] == "Entity Updated" && push["message"] == "m1" && push["seq"] == .int(1) && push["id"] == receipt?["eventId"])
        // The AWS quick start's example, as a PutEvents body.
        let example = try Data(contentsOf: AWSTemplateTests.folder.appending(path: "examples/send-user-push-notification.json"))
        let entries = try await local.publish.post("/events", body: Array(example))
        #expect(entries.status == 200 && JSON.parse(Array(entries.body.utf8))?["failedEntryCount"] == .int(0))
        // Sent to myuserid: ada has no notification; a second client of myuserid gets it.
        let other = try await local.connect("myuserid")
        _ = try await local.publish.post("/events", body: Array(example))
        #expect(try await other.json(timeout: .seconds(30))["type"] == "User Push Notification")
        // Resume: a new connection that saw nothing replays seq 1.
        let late = try await local.connect("bob")
        late.send(#"{"action":"subscribe","entityId":"order-7","since":0}"#)
        #expect(try await late.json(timeout: .seconds(30))["recovered"] == .bool(true))
        #expect(try await late.json(timeout: .seconds(30))["seq"] == .int(1))
        ada.send(#"{"action":"ping","requestId":"p"}"#)
        #expect(try await ada.json(timeout: .seconds(30)) == ["type": "pong", "requestId": "p"])
        await #expect(throws: (any Error).self) { _ = try await HeraldSocket.connect(url: local.wsURL + "?access_token=not-a-token") }
        await local.stop()
    }
}
