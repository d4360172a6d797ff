import Configuration
import Foundation
import HeraldCore
import HeraldServer
import HeraldTokens
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// Keys come from where the operator said: `--jwks-url` is `https://` (plain `http://` only to
/// this machine, and only when asked for loudly), a redirect never leaves the URL's origin, and a
/// fetch ends within its bound whatever the server does.
@Suite struct KeySetSourceTests {
    private static let document = #"{"keys":[]}"#

    private func configuration(_ flags: [String: String]) throws(ConfigurationError) -> HeraldConfiguration {
        try HeraldConfiguration(reader: HeraldConfiguration.reader(flags: flags.mapValues { .string($0) }, environment: [:]), isDevelopment: true)
    }

    @Test func anHTTPJWKSURLIsRefusedAtStart() throws {
        let prefix = "invalid value for --jwks-url (HERALD_JWKS_URL, or `jwks-url` in the config file): expected "
        #expect(throws: ConfigurationError.self) { try configuration(["jwks-url": "http://idp.example.com/jwks.json"]) }
        do {
            _ = try configuration(["jwks-url": "http://127.0.0.1:9/jwks.json"])
        } catch {
            #expect(
                error.message == prefix
                    + "an https:// URL of a JWKS document (keys fetched over plain http:// can be replaced on the way; for a test identity provider on this machine only, set --insecure-jwks-over-http-on-loopback true)"
            )
        }
        do {
            _ = try configuration(["jwks-url": "http://idp.example.com/jwks.json", "insecure-jwks-over-http-on-loopback": "true"])
            Issue.record("a plain http:// URL to another host was accepted")
        } catch {
            #expect(
                error.message == prefix
                    + "an https:// URL of a JWKS document: --insecure-jwks-over-http-on-loopback allows http:// only to a loopback host (127.0.0.1, [::1] or localhost), not idp.example.com"
            )
        }
        #expect(try configuration(["jwks-url": "http://127.0.0.1:9/jwks.json", "insecure-jwks-over-http-on-loopback": "true"]).tokens.jwksURL != nil)
        #expect(try configuration(["jwks-url": "http://[::1]:9/jwks.json", "insecure-jwks-over-http-on-loopback": "true"]).tokens.jwksURL != nil)
        #expect(try configuration(["jwks-url": "https://idp.example.com/jwks.json"]).tokens.jwksURL != nil)
    }

    /// A configuration made in code (as the tests and embedders make one) meets the same rule.
    @Test func theRuleHoldsForAConfigurationMadeInCodeAndTheOptInIsLogged() async throws {
        let provider = try await KeySetServer.start(document: Self.document)
        await #expect {
            _ = try await TestServer.start { $0.tokens.jwksURL = provider.url }
        } throws: { error in
            (error as? ConfigurationError)?.message.hasPrefix(
                "invalid value for --jwks-url (HERALD_JWKS_URL, or `jwks-url` in the config file): expected an https:// URL"
            ) == true
        }
        #expect(provider.requests == 0)
        let records = LogRecords()
        let server = try await TestServer.start(logger: Logger(label: "herald.test") { _ in RecordingLogHandler(records: records) }) {
            $0.tokens.jwksURL = provider.url
            $0.tokens.insecureJWKSOverHTTPOnLoopback = true
        }
        let warnings = records.lines.filter { $0.level == .warning && $0.message.hasPrefix("JWKS fetched over plain HTTP") }
        #expect(warnings.count == 1 && warnings.first?.metadata["herald.jwks.source"] == "--jwks-url \(provider.url)")
        try await server.stop()
        try await provider.stop()
    }

    @Test func aRedirectToAnotherOriginIsNotFollowed() async throws {
        let elsewhere = try await KeySetServer.start(document: Self.document)
        let redirecting = Router()
        redirecting.get("jwks.json") { _, _ in Response(status: .found, headers: [.location: elsewhere.url]) }
        redirecting.get("moved") { _, _ in Response(status: .movedPermanently, headers: [.location: "/here.json"]) }
        redirecting.get("here.json") { _, _ in Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: Self.document))) }
        let provider = try await LocalHTTPServer.start(redirecting)
        let origin = "http://127.0.0.1:\(provider.port)"
        await #expect {
            _ = try await TestServer.start {
                $0.tokens.jwksURL = origin + "/jwks.json"
                $0.tokens.insecureJWKSOverHTTPOnLoopback = true
            }
        } throws: { error in
            let port = elsewhere.url.split(separator: ":")[2].prefix { $0.isNumber }
            return "\(error)"
                == "--jwks-url: cannot load the JWKS from \(origin)/jwks.json: HTTP 302 redirects to http://127.0.0.1:\(port), another origin than http://127.0.0.1:\(provider.port): a JWKS redirect is followed only within its URL's origin"
        }
        #expect(elsewhere.requests == 0)
        // Within the origin, a redirect is followed.
        let server = try await TestServer.start {
            $0.tokens.jwksURL = origin + "/moved"
            $0.tokens.insecureJWKSOverHTTPOnLoopback = true
        }
        try await server.stop()
        try await provider.stop()
        try await elsewhere.stop()
    }

    /// A provider that accepts and never answers, and one that sends its head and then stalls
    /// the body: each fetch gives up at its bound (here 300 ms), and start fails saying so.
    @Test(arguments: [StallingServer.Stall.beforeTheHead, .inTheBody])
    func aFetchThatNeverCompletesIsGivenUp(_ stall: StallingServer.Stall) async throws {
        let provider = try await StallingServer.start(stall)
        let started = ContinuousClock.now
        await #expect {
            _ = try await TestServer.start {
                $0.tokens.jwksURL = "http://127.0.0.1:\(provider.port)/jwks.json"
                $0.tokens.insecureJWKSOverHTTPOnLoopback = true
                $0.tokens.jwksFetchTimeout = .milliseconds(300)
            }
        } throws: { error in
            "\(error)" == "--jwks-url: cannot load the JWKS from http://127.0.0.1:\(provider.port)/jwks.json: no complete answer within 0.3 seconds"
        }
        #expect(ContinuousClock.now - started < .seconds(5), "the fetch was not bounded")
        #expect(provider.accepted >= 1)
        try await provider.stop()
    }
}

/// An HTTP server on 127.0.0.1 that never finishes an answer.
final class StallingServer: Sendable {
    enum Stall: Sendable, CustomTestStringConvertible {
        /// Reads the request and sends nothing.
        case beforeTheHead
        /// Sends a head promising 100,000 bytes, one byte of them, then nothing.
        case inTheBody

        var testDescription: String { self == .beforeTheHead ? "before the head" : "in the body" }
    }

    private final class Answer: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let stall: Stall
        init(_ stall: Stall) { self.stall = stall }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard stall == .inTheBody else { return }
            context.writeAndFlush(NIOAny(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n{")), promise: nil)
        }
    }

    let port: Int
    private let channel: any Channel
    private let counter: Counter

    private final class Counter: Sendable { let value = Atomic<Int>(0) }

    private init(port: Int, channel: any Channel, counter: Counter) {
        self.port = port
        self.channel = channel
        self.counter = counter
    }

    static func start(_ stall: Stall) async throws -> StallingServer {
        let counter = Counter()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { child in
                counter.value.add(1, ordering: .relaxed)
                return child.eventLoop.makeCompletedFuture { try child.pipeline.syncOperations.addHandler(Answer(stall)) }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        guard let port = channel.localAddress?.port else { throw TestFailure("the stalling server has no port") }
        return StallingServer(port: port, channel: channel, counter: counter)
    }

    /// Connections accepted so far.
    var accepted: Int { counter.value.load(ordering: .relaxed) }

    func stop() async throws { try await channel.close() }
}
