import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

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

    /// Sends `body` to `path` (e.g. `/events`). Throws `ClientError` (`.unreachable`) when Herald cannot be reached.
    public func post(_ path: String, body: [UInt8], timeout: Duration = .seconds(10)) async throws -> Answer {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        if let publishKey { request.headers.add(name: "Authorization", value: "Bearer \(publishKey)") }
        request.body = .bytes(ByteBuffer(bytes: body))
        return try await Self.send(request, timeout: timeout)
    }

    /// One request through the client commands' HTTP client; its answer, or `ClientError` (`.unreachable`).
    static func send(_ request: HTTPClientRequest, timeout: Duration) async throws -> Answer {
        do {
            let response = try await http.execute(request, timeout: .init(timeout))
            let text = try await response.body.collect(upTo: 16 << 20)
            return Answer(status: Int(response.status.code), body: String(buffer: text))
        } catch {
            throw ClientError(.unreachable, Self.describe(error))
        }
    }

    /// A connection failure in a few words (`connection refused`), not the error's debug description.
    static func describe(_ error: any Error) -> String {
        switch error {
        case let error as NIOConnectionError:
            error.connectionErrors.first.map { describe($0.error) } ?? error.dnsAAAAError.map(describe) ?? "\(error)"
        case let error as IOError:
            String(cString: strerror(error.errnoCode)).lowercased()
        case let error as HTTPClientError where error == .deadlineExceeded || error == .connectTimeout:
            "no answer in time"
        default:
            "\(error)"
        }
    }

    /// A client that gives up at the first failed connect: AsyncHTTPClient's shared one retries a
    /// refused connection until the request's deadline, so a command against a closed port took 10 s.
    private static let http: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .seconds(5)
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()
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
