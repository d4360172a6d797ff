import AsyncHTTPClient
import NIOCore
import NIOHTTP1

/// Small helpers over AsyncHTTPClient for requests the publish client does not make.
enum HTTPClientRequestForTests {
    static func post(_ url: String, body: String) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.body = .bytes(ByteBuffer(string: body))
        return request
    }

    static func status(_ request: HTTPClientRequest) async throws -> Int {
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        _ = try await response.body.collect(upTo: 1 << 20)
        return Int(response.status.code)
    }
}
