import Foundation
import HeraldClient
import HeraldCore
import HeraldServer
import HeraldTokens
import Hummingbird
import JWTKit
import Logging
import NIOCore
import Synchronization
import Testing

/// Tokens verified against a JWKS document (PROTOCOL.md §1): by `kid`, refreshed once for a new key id
/// however many connections bring it, and never more often than the minimum gap for made-up ones.
@Suite struct KeySetTests {
    private struct Claims: JWTPayload {
        var exp = Int(Date().timeIntervalSince1970) + 3600
        var sub = "u1"
        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    /// An ES256 signing key published under `kid`.
    private struct PublishedKey {
        let kid: String
        let signer = JWTKeyCollection()
        let jwk: JWK

        init(kid: String) async {
            self.kid = kid
            let key = ES256PrivateKey()
            let (x, y) = key.publicKey.parameters!
            jwk = .ecdsa(.es256, identifier: JWKIdentifier(string: kid), x: x, y: y, curve: .p256)
            await signer.add(ecdsa: key, kid: JWKIdentifier(string: kid))
        }

        func token() async throws -> String { try await signer.sign(Claims(), kid: JWKIdentifier(string: kid)) }
    }

    private static func document(_ keys: [PublishedKey]) throws -> String {
        String(decoding: try JSONEncoder().encode(JWKS(keys: keys.map(\.jwk))), as: UTF8.self)
    }

    @Test func aNewKeyIDIsFetchedOnceForManyConnections() async throws {
        let (first, rotated) = (await PublishedKey(kid: "k1"), await PublishedKey(kid: "k2"))
        let provider = try await KeySetServer.start(document: try Self.document([first]))
        let server = try await TestServer.start {
            $0.tokens.secret = nil
            $0.tokens.jwksURL = provider.url
            $0.tokens.insecureJWKSOverHTTPOnLoopback = true
            $0.tokens.algorithms = ["ES256"]
            $0.tokens.jwksMinimumRefreshGap = .zero
        }
        #expect(provider.requests == 1)  // loaded at start
        try await HeraldSocket.connect(url: server.wsURL + "?access_token=" + first.token()).expectNothingPending()
        #expect(provider.requests == 1)

        // The provider rotates to k2; twenty clients arrive at once with k2 tokens.
        provider.publish(try Self.document([first, rotated]))
        let token = try await rotated.token()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<20 {
                group.addTask { try await HeraldSocket.connect(url: server.wsURL + "?access_token=" + token).expectNothingPending() }
            }
            try await group.waitForAll()
        }
        #expect(provider.requests == 2)
        try await server.stop()
        try await provider.stop()
    }

    /// The race behind a crowd of connects: one looked its key id up before the refresh another
    /// started had ended, and asks only after it ended. It shares that refresh's keys; it does
    /// not fetch the document again (even with no minimum gap).
    @Test func anAskerWhoseLookupCameBeforeALoadThatEndedSharesItsKeys() async throws {
        let key = await PublishedKey(kid: "k1")
        let provider = try await KeySetServer.start(document: try Self.document([key]))
        var configuration = TokenConfiguration()
        configuration.algorithms = ["ES256"]
        configuration.jwksURL = provider.url
        let refresher = KeySetRefresher(
            source: .url(provider.url),
            keys: try await VerificationKeys(configuration: configuration),
            interval: .seconds(3600),
            minimumGap: .zero,
            logger: Logger(label: "herald.test")
        )
        try await refresher.load()
        let lookedUp = refresher.loadsEnded
        await refresher.refreshForUnknownKeyID(lookedUpAfter: lookedUp)?.value
        #expect(provider.requests == 2)
        await refresher.refreshForUnknownKeyID(lookedUpAfter: lookedUp)?.value
        #expect(provider.requests == 2)
        // A lookup after that load is worth a fetch of its own.
        await refresher.refreshForUnknownKeyID(lookedUpAfter: refresher.loadsEnded)?.value
        #expect(provider.requests == 3)
        try await provider.stop()
    }

    @Test func madeUpKeyIDsCannotHammerTheProvider() async throws {
        let known = await PublishedKey(kid: "k1")
        let provider = try await KeySetServer.start(document: try Self.document([known]))
        let server = try await TestServer.start {
            $0.tokens.secret = nil
            $0.tokens.jwksURL = provider.url
            $0.tokens.insecureJWKSOverHTTPOnLoopback = true
            $0.tokens.algorithms = ["ES256"]
            $0.tokens.jwksMinimumRefreshGap = .seconds(3600)
        }
        for index in 0..<30 {
            let stranger = await PublishedKey(kid: "bogus-\(index)")
            let (status, body) = try await server.upgradeAttempt(query: "?access_token=\(try await stranger.token())")
            #expect(status == 401 && body?["reason"] == "token_invalid")
        }
        #expect(provider.requests == 1)
        try await HeraldSocket.connect(url: server.wsURL + "?access_token=" + known.token()).expectNothingPending()
        try await server.stop()
        try await provider.stop()
    }

    @Test func keysJWTKitCannotReadAreSkippedOneByOneAndLogged() async throws {
        let (first, rotated) = (await PublishedKey(kid: "k1"), await PublishedKey(kid: "k2"))
        // A symmetric key and a key type jwt-kit does not know, beside the readable keys.
        func document(_ keys: [PublishedKey]) throws -> String {
            let readable = try keys.map { String(decoding: try JSONEncoder().encode($0.jwk), as: UTF8.self) }
            return #"{"keys":[{"kty":"oct","kid":"shared","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQ"},{"kty":"PQC","kid":"future","pub":"AA"},"#
                + readable.joined(separator: ",") + "]}"
        }
        let provider = try await KeySetServer.start(document: try document([first]))
        let records = LogRecords()
        let server = try await TestServer.start(logger: Logger(label: "herald.test") { _ in RecordingLogHandler(records: records) }) {
            $0.tokens.secret = nil
            $0.tokens.jwksURL = provider.url
            $0.tokens.insecureJWKSOverHTTPOnLoopback = true
            $0.tokens.algorithms = ["ES256"]
            $0.tokens.jwksMinimumRefreshGap = .zero
        }
        try await HeraldSocket.connect(url: server.wsURL + "?access_token=" + first.token()).expectNothingPending()
        // A refresh that brings a new key beside the unreadable ones takes the new key.
        provider.publish(try document([first, rotated]))
        try await HeraldSocket.connect(url: server.wsURL + "?access_token=" + rotated.token()).expectNothingPending()
        #expect(provider.requests == 2)
        let skipped = records.lines.filter { $0.level == .warning && $0.message == "JWKS key skipped" }
        #expect(skipped.filter { $0.metadata["herald.jwks.kid"] == "shared" }.count == 2, "\(records.lines)")
        #expect(skipped.filter { $0.metadata["herald.jwks.kid"] == "future" }.count == 2, "\(records.lines)")
        #expect(skipped.count == 4)
        try await server.stop()
        try await provider.stop()
    }

    @Test func aKeySetFromAFileAndOneThatCannotBeLoaded() async throws {
        let key = await PublishedKey(kid: "file-key")
        let path = try TokenKeysTests.pemFile(try Self.document([key]))
        let server = try await TestServer.start {
            $0.tokens.secret = nil
            $0.tokens.jwksFile = path
            $0.tokens.algorithms = ["ES256"]
        }
        try await HeraldSocket.connect(url: server.wsURL + "?access_token=" + key.token()).expectNothingPending()
        try await server.stop()
        await #expect(throws: ConfigurationError.self) {
            _ = try await TestServer.start {
                $0.tokens.secret = nil
                $0.tokens.jwksFile = "/nonexistent/jwks.json"
                $0.tokens.algorithms = ["ES256"]
            }
        }
    }
}

/// An identity provider's JWKS endpoint on 127.0.0.1: serves the current document, counts requests.
final class KeySetServer: Sendable {
    private let document: Mutex<String>
    private let requestCount = Atomic<Int>(0)
    private let server: Mutex<LocalHTTPServer?> = Mutex(nil)

    private init(document: String) {
        self.document = Mutex(document)
    }

    static func start(document: String) async throws -> KeySetServer {
        let provider = KeySetServer(document: document)
        let router = Router()
        router.get("jwks.json") { _, _ in
            provider.requestCount.add(1, ordering: .relaxed)
            return Response(
                status: .ok,
                headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: provider.document.withLock { $0 }))
            )
        }
        let server = try await LocalHTTPServer.start(router)
        provider.server.withLock { $0 = server }
        return provider
    }

    var url: String { "http://127.0.0.1:\(server.withLock { $0 }?.port ?? 0)/jwks.json" }
    var requests: Int { requestCount.load(ordering: .relaxed) }

    func publish(_ document: String) { self.document.withLock { $0 = document } }

    func stop() async throws { try await server.withLock { $0 }?.stop() }
}
