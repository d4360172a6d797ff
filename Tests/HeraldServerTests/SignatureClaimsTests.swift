import AWSSignature
import Foundation
import HeraldCore
import HeraldServer
import Testing

/// A SigV4 signature made with a publish key proves what it claims, and no more: it must be for
/// API Gateway's service (`execute-api`), the configured region, one of the node's public names,
/// and its body; a signed request that changes something is accepted once. Each attack below is
/// a request signed with the right key that today's code accepted.
@Suite struct SignatureClaimsTests {
    /// A request signed as botocore signs it, with the publish key as the secret access key, as raw bytes.
    private static func signed(
        _ method: String,
        _ path: String,
        body: String,
        host: String,
        region: String = "us-east-1",
        service: String = "execute-api",
        unsignedPayload: Bool = false,
        secret: String = TestServer.publishKey
    ) -> String {
        var headers = [(name: "Host", value: host), (name: "Content-Type", value: "application/json")]
        if unsignedPayload { headers.append((name: "X-Amz-Content-SHA256", value: AWSSignatureV4.unsignedPayload)) }
        let request = AWSSignatureV4.Request(
            method: method,
            rawPath: path,
            rawQuery: "",
            headers: headers,
            bodySHA256Hex: AWSSignatureV4.sha256Hex(body.utf8)
        )
        let added = AWSSignatureV4.signature(
            for: request,
            credentials: .init(accessKeyID: "herald", secretAccessKey: secret),
            region: region,
            service: service,
            at: Date()
        )
        let lines = (headers + added).map { "\($0.name): \($0.value)" } + ["Content-Length: \(body.utf8.count)", "Connection: close"]
        return "\(method) \(path) HTTP/1.1\r\n" + lines.joined(separator: "\r\n") + "\r\n\r\n" + body
    }

    /// Sends `request` and returns the status and the JSON body (the server closes after answering).
    private static func send(_ request: String, to server: TestServer) async throws -> (status: Int, body: JSONValue?) {
        let response = try await RawHTTP.received(port: server.port, request: request) { _ in false }
        let parts = response.components(separatedBy: "\r\n\r\n")
        let status = parts.first?.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        return (status, JSON.parse(Array((parts.dropFirst().first ?? "").utf8)))
    }

    private static func refusal(_ message: String) -> JSONValue {
        .object(["message": .string(message), "reason": "unauthorized"])
    }

    private static let update = #"{"message":"signed"}"#

    @Test func aSignatureForAnotherServiceIsRefused() async throws {
        let server = try await TestServer.start()
        let host = "127.0.0.1:\(server.port)"
        let answer = try await Self.send(Self.signed("POST", "/entities/order-7/updates", body: Self.update, host: host, service: "s3"), to: server)
        #expect(answer.status == 401)
        #expect(answer.body == Self.refusal("the AWS signature is not accepted: the credential scope names service s3; only execute-api is accepted"))
        try await server.stop()
    }

    @Test func aSignatureForAnotherRegionIsRefused() async throws {
        let server = try await TestServer.start()
        let host = "127.0.0.1:\(server.port)"
        let answer = try await Self.send(
            Self.signed("POST", "/entities/order-7/updates", body: Self.update, host: host, region: "zz-fake-9"),
            to: server
        )
        #expect(answer.status == 401)
        #expect(
            answer.body
                == Self.refusal("the AWS signature is not accepted: the credential scope names region zz-fake-9; this server accepts us-east-1")
        )
        // The configured region is accepted.
        let configured = try await TestServer.start { $0.awsRegion = "zz-fake-9" }
        let accepted = try await Self.send(
            Self.signed("POST", "/entities/order-7/updates", body: Self.update, host: "127.0.0.1:\(configured.port)", region: "zz-fake-9"),
            to: configured
        )
        #expect(accepted.status == 202)
        try await configured.stop()
        try await server.stop()
    }

    @Test func aSignatureForAForeignHostIsRefusedWhenPublicNamesAreConfigured() async throws {
        let server = try await TestServer.start { $0.publicHosts = ["push.example.com", "127.0.0.1"] }
        let foreign = try await Self.send(Self.signed("POST", "/entities/order-7/updates", body: Self.update, host: "evil.example"), to: server)
        #expect(foreign.status == 401)
        #expect(
            foreign.body
                == Self.refusal(
                    "the AWS signature is not accepted: the request was signed for host evil.example; this server answers as push.example.com, 127.0.0.1"
                )
        )
        let own = try await Self.send(
            Self.signed("POST", "/entities/order-7/updates", body: Self.update, host: "127.0.0.1:\(server.port)"),
            to: server
        )
        #expect(own.status == 202)
        let named = try await Self.send(Self.signed("POST", "/entities/order-7/updates", body: Self.update, host: "PUSH.example.com"), to: server)
        #expect(named.status == 202)
        try await server.stop()
    }

    @Test func aReplayedSignedPostIsRefusedAndDeliversNothing() async throws {
        let server = try await TestServer.start()
        let subscriber = try await server.subscriber(to: ["order-7"])
        let request = Self.signed("POST", "/entities/order-7/updates", body: Self.update, host: "127.0.0.1:\(server.port)")
        #expect(try await Self.send(request, to: server).status == 202)
        let replayed = try await Self.send(request, to: server)
        #expect(replayed.status == 401)
        #expect(
            replayed.body
                == Self.refusal(
                    "the AWS signature was already used: a signed request that changes something is accepted once within 15 minutes; sign it again"
                )
        )
        let push = try await subscriber.json()
        #expect(push["seq"] == .int(1) && push["message"] == "signed")
        try await subscriber.expectNothingPending()
        // A signed read may be sent again: it changes nothing.
        let read = Self.signed("GET", "/admin/stats", body: "", host: "127.0.0.1:\(server.port)")
        #expect(try await Self.send(read, to: server).status == 200)
        #expect(try await Self.send(read, to: server).status == 200)
        try await server.stop()
    }

    @Test func anUnsignedPayloadIsRefusedOnARequestWithABody() async throws {
        let server = try await TestServer.start()
        let host = "127.0.0.1:\(server.port)"
        let answer = try await Self.send(
            Self.signed("POST", "/entities/order-7/updates", body: Self.update, host: host, unsignedPayload: true),
            to: server
        )
        #expect(answer.status == 401)
        #expect(
            answer.body
                == Self.refusal(
                    "the AWS signature is not accepted: X-Amz-Content-SHA256: UNSIGNED-PAYLOAD is not accepted on a request with a body; sign the body's SHA-256"
                )
        )
        // Without a body there is nothing left unsigned.
        let socket = try await server.connect(user: "bodiless")
        let id = try await server.connectionID(of: "bodiless")
        let delete = try await Self.send(Self.signed("DELETE", "/@connections/\(id)", body: "", host: host, unsignedPayload: true), to: server)
        #expect(delete.status == 204)
        #expect(try await socket.closeCode() == 4003)
        try await server.stop()
    }
}
