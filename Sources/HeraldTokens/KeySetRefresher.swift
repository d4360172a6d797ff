import AsyncHTTPClient
import Foundation
public import Logging
import NIOCore
import NIOHTTP1
public import ServiceLifecycle
import Synchronization

/// Loads the JWKS document into the verification keys: at start, every refresh interval, and
/// when a token names a key id the set lacks — at most once per minimum gap, with concurrent
/// askers sharing the one refresh in flight, and an asker whose lookup came before a load that
/// has since ended sharing that load's keys, so a flood of made-up `kid`s cannot hammer the
/// identity provider and a crowd bringing a new one costs it one fetch. A failed refresh keeps
/// the keys it had; a key of the document that cannot be read is skipped (logged at warning with
/// its `kid`) and the others are used.
///
/// A URL is fetched within `fetchTimeout` (redirects and body included) and at most
/// `maxDocumentBytes`; a redirect is followed only within the URL's origin (scheme, host, port).
public final class KeySetRefresher: Service, Sendable {
    /// Where the JWKS document comes from.
    public enum Source: Sendable, CustomStringConvertible {
        case file(String)
        case url(String)

        public var description: String {
            switch self {
            case .file(let path): path
            case .url(let url): url
            }
        }
    }

    private struct State {
        var lastRefresh: ContinuousClock.Instant?
        var inFlight: Task<Void, Never>?
        var loadsEnded = 0
    }

    public let source: Source
    private let keys: VerificationKeys
    private let interval: Duration
    private let minimumGap: Duration
    private let logger: Logger
    private let state = Mutex(State())

    private let fetchTimeout: Duration

    /// The largest JWKS document read.
    public static let maxDocumentBytes = 1 << 20
    /// The most redirects followed (each within the URL's origin).
    public static let maxRedirects = 5

    /// - Parameter fetchTimeout: the longest one fetch of a URL may take, redirects and body included.
    public init(
        source: Source,
        keys: VerificationKeys,
        interval: Duration,
        minimumGap: Duration,
        fetchTimeout: Duration = .seconds(10),
        logger: Logger
    ) {
        self.source = source
        self.keys = keys
        self.interval = interval
        self.minimumGap = minimumGap
        self.fetchTimeout = fetchTimeout
        self.logger = logger
    }

    /// How many loads of the document have ended (with new keys or without): read before a
    /// lookup, it tells `refreshForUnknownKeyID(lookedUpAfter:)` whether the keys were loaded since.
    public var loadsEnded: Int { state.withLock { $0.loadsEnded } }

    /// Reads the document and replaces the keys; throws (naming the source) when it cannot.
    public func load() async throws(TokenError) {
        state.withLock { $0.lastRefresh = .now }
        // Counted once the keys are replaced: an asker that reads the count after sees the new keys.
        defer { state.withLock { $0.loadsEnded += 1 } }
        let document: [UInt8]
        do {
            document = try await fetch()
        } catch {
            throw TokenError(.keySetUnavailable, "cannot load the JWKS from \(source): \(error)")
        }
        do {
            let report = try await keys.replaceKeySet(with: document)
            for kid in report.unreadable {
                logger.warning("JWKS key skipped", metadata: ["herald.jwks.kid": "\(kid)", "herald.jwks.source": "\(source)"])
            }
            logger.debug("JWKS loaded", metadata: ["herald.jwks.keys": "\(report.keyIDs)"])
        } catch {
            throw TokenError(.keySetUnavailable, "\(source): \(error.message)")
        }
    }

    /// A token named a key id the set lacks, looked up when `loadsEnded` was `seen`: the refresh to
    /// wait for before trying it again (one already ended when a load has ended since the lookup),
    /// or nil when the set was refreshed less than the minimum gap ago.
    public func refreshForUnknownKeyID(lookedUpAfter seen: Int) -> Task<Void, Never>? {
        state.withLock { state in
            if let inFlight = state.inFlight { return inFlight }
            if state.loadsEnded > seen { return Self.ended }
            if let last = state.lastRefresh, ContinuousClock.now - last < minimumGap { return nil }
            state.lastRefresh = .now
            let refresh = Task {
                await self.refreshKeepingOldKeys()
                self.state.withLock { $0.inFlight = nil }
            }
            state.inFlight = refresh
            return refresh
        }
    }

    /// What an asker waits for when the keys were loaded after its lookup: nothing.
    private static let ended = Task<Void, Never> {}

    /// Refreshes every interval until graceful shutdown.
    public func run() async {
        await cancelWhenGracefulShutdown {
            while (try? await Task.sleep(for: self.interval)) != nil {
                await self.refreshKeepingOldKeys()
            }
        }
    }

    private func refreshKeepingOldKeys() async {
        do {
            try await load()
        } catch {
            logger.warning("JWKS refresh failed; keeping the keys it had", metadata: ["error": "\(error.message)"])
        }
    }

    private func fetch() async throws -> [UInt8] {
        switch source {
        case .file(let path):
            guard let data = FileManager.default.contents(atPath: path) else { throw TokenError(.keySetUnavailable, "no readable file") }
            return Array(data)
        case .url(let url):
            return try await Self.within(fetchTimeout) { try await Self.download(url) }
        }
    }

    /// The document at `url`, following redirects within its origin only.
    private static func download(_ url: String) async throws -> [UInt8] {
        guard let origin = JWKSLocation.Origin(url) else { throw TokenError(.keySetUnavailable, "not a URL") }
        var current = url
        for _ in 0...maxRedirects {
            let response = try await http.execute(HTTPClientRequest(url: current), timeout: .seconds(3_600))  // bounded by `within`
            if (300..<400).contains(response.status.code), let location = response.headers.first(name: "location") {
                guard let next = URL(string: location, relativeTo: URL(string: current))?.absoluteURL.absoluteString,
                    let target = JWKSLocation.Origin(next)
                else { throw TokenError(.keySetUnavailable, "HTTP \(response.status.code) to an unreadable Location") }
                guard target == origin else {
                    throw TokenError(
                        .keySetUnavailable,
                        "HTTP \(response.status.code) redirects to \(target), another origin than \(origin): a JWKS redirect is followed only within its URL's origin"
                    )
                }
                current = next
                continue
            }
            guard response.status == .ok else { throw TokenError(.keySetUnavailable, "HTTP \(response.status.code)") }
            return Array(buffer: try await response.body.collect(upTo: maxDocumentBytes))
        }
        throw TokenError(.keySetUnavailable, "more than \(maxRedirects) redirects")
    }

    /// `body`'s value, or an error once `limit` has passed (`body` is cancelled).
    private static func within<Value: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> Value) async throws -> Value {
        try await withThrowingTaskGroup(of: Value?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: limit)
                return nil
            }
            defer { group.cancelAll() }
            guard case let value?? = try await group.next() else {
                throw TokenError(.keySetUnavailable, "no complete answer within \(limit)")
            }
            return value
        }
    }

    /// Follows no redirect itself (`download` decides), so none can leave the URL's origin.
    private static let http: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()
}
