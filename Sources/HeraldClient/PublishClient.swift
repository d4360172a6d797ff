import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// Posts to Herald's publish API with a publish key.
public struct PublishClient: Sendable {
    /// An HTTP answer: status code and body text.
    public struct Answer: Sendable {
        public var status: Int
        public var body: String
    }

    public let baseURL: String
    public let publishKey: String?

    /// - Parameter baseURL: e.g. `http://127.0.0.1:8080` (a `ws://` URL is accepted and rewritten).
    public init(baseURL: String, publishKey: String?) {
        self.baseURL = HTTPURL.http(from: baseURL)
        self.publishKey = publishKey
    }

    /// Sends `body` to `path` (e.g. `/events`).
    public func post(_ path: String, body: [UInt8], timeout: Duration = .seconds(10)) async throws -> Answer {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        if let publishKey { request.headers.add(name: "Authorization", value: "Bearer \(publishKey)") }
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await HTTPClient.shared.execute(request, timeout: .init(timeout))
        let text = try await response.body.collect(upTo: 16 << 20)
        return Answer(status: Int(response.status.code), body: String(buffer: text))
    }
}

/// Converts between the `http(s)://` and `ws(s)://` spellings of a Herald URL.
public enum HTTPURL {
    public static func http(from url: String) -> String {
        trimmed(url.replacingPrefix("ws://", with: "http://").replacingPrefix("wss://", with: "https://"))
    }

    public static func webSocket(from url: String) -> String {
        trimmed(url.replacingPrefix("http://", with: "ws://").replacingPrefix("https://", with: "wss://"))
    }

    private static func trimmed(_ url: String) -> String {
        url.hasSuffix("/") ? String(url.dropLast()) : url
    }
}

extension String {
    fileprivate func replacingPrefix(_ prefix: String, with replacement: String) -> String {
        hasPrefix(prefix) ? replacement + dropFirst(prefix.count) : self
    }
}
