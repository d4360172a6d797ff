import Foundation
import HeraldClient
import HeraldCore
import HeraldServer
import NIOCore
import NIOHTTP1
import Testing

/// API Gateway's Management API on a live server: `POST|GET|DELETE /@connections/{id}` with a Bearer key.
/// (`AWSSDKTests` drives the same routes with boto3 and the AWS CLI, SigV4-signed.)
@Suite struct ManagementAPITests {
    @Test func postSendsTheBodyVerbatimAsOneTextFrame() async throws {
        let server = try await TestServer.start()
        let socket = try await server.connect(user: "erin")
        let id = try await server.connectionID(of: "erin")
        for body in [#"{"hello":"world","n":1}"#, "plain text, not JSON", "ünïcødé ✓", ""] {
            let response = try await server.request(.POST, "/@connections/\(id)", body: Array(body.utf8))
            #expect(response.status == 200)
            #expect(await socket.next() == .text(body))
        }
        try await socket.expectNothingPending()
        try await server.stop()
    }

    @Test func getDescribesTheConnectionInAPIGatewaysShape() async throws {
        let server = try await TestServer.start()
        let socket = try await server.connect(user: "frank")
        let id = try await server.connectionID(of: "frank")
        let (status, body) = try await server.get("/@connections/\(id)")
        #expect(status == 200)
        #expect(body?["identity"]?["sourceIp"] == "127.0.0.1")
        #expect(body?["identity"]?["userId"] == "frank")
        let connectedAt = try #require(body?["connectedAt"]?.stringValue.flatMap { try? Date($0, strategy: .iso8601) })
        let lastActiveAt = try #require(body?["lastActiveAt"]?.stringValue.flatMap { try? Date($0, strategy: .iso8601) })
        #expect(lastActiveAt >= connectedAt)

        // A message from the client moves lastActiveAt.
        try await Task.sleep(for: .milliseconds(20))
        try await socket.expectNothingPending()
        let (_, later) = try await server.get("/@connections/\(id)")
        let movedTo = try #require(later?["lastActiveAt"]?.stringValue.flatMap { try? Date($0, strategy: .iso8601) })
        #expect(movedTo > lastActiveAt)
        try await server.stop()
    }

    @Test func deleteClosesWith4003AndTheIdIsThenGone() async throws {
        let server = try await TestServer.start()
        let socket = try await server.connect(user: "gina")
        let id = try await server.connectionID(of: "gina")
        #expect(try await server.request(.DELETE, "/@connections/\(id)").status == 204)
        #expect(try await socket.closeCode() == 4003)
        try await waitUntil("the connection is gone") { server.application.hub.connections == 0 }
        for method in [HTTPMethod.POST, .GET, .DELETE] {
            let response = try await server.request(method, "/@connections/\(id)", body: method == .POST ? Array("x".utf8) : nil)
            #expect(response.status == 410, "\(method)")
            #expect(response.headers["x-amzn-ErrorType"] == ["GoneException"])
            #expect(JSON.parse(response.body.readableBytesView)?["reason"] == "gone")
        }
        #expect(try await server.request(.GET, "/@connections/L0SM9cOFvHcCIhw=").status == 410)
        try await server.stop()
    }

    @Test func aKeyIsCheckedBeforeAnythingElseAndBadBodiesAreRefused() async throws {
        let server = try await TestServer.start()
        let socket = try await server.connect(user: "hal")
        let id = try await server.connectionID(of: "hal")
        // 401 before the id is looked up: an unknown id without a key is still 401, not 410.
        for path in ["/@connections/\(id)", "/@connections/unknown"] {
            #expect(try await server.request(.GET, path, key: nil).status == 401)
            #expect(try await server.request(.POST, path, body: [1], key: "wrong").status == 401)
            #expect(try await server.request(.DELETE, path, key: nil).status == 401)
        }
        let tooBig = try await server.request(.POST, "/@connections/\(id)", body: Array(repeating: UInt8(ascii: "a"), count: 131_073))
        #expect(tooBig.status == 413)
        let notText = try await server.request(.POST, "/@connections/\(id)", body: [0xFF, 0xFE])
        #expect(notText.status == 400)
        #expect(JSON.parse(notText.body.readableBytesView)?["reason"] == "invalid_body")
        let largest = try await server.request(.POST, "/@connections/\(id)", body: Array(repeating: UInt8(ascii: "b"), count: 131_072))
        #expect(largest.status == 200)
        // Only the accepted post reached the client, and it is still connected.
        let frame = await socket.next()
        guard case .text(let text)? = frame else { throw TestFailure("no frame") }
        #expect(text.utf8.count == 131_072)
        try await socket.expectNothingPending()
        try await server.stop()
    }
}
