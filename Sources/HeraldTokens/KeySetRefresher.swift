import AsyncHTTPClient
import Foundation
public import HeraldCore
public import Logging
import NIOCore
import NIOHTTP1
public import ServiceLifecycle
import Synchronization

/// Loads the JWKS document into the verification keys: at start, every refresh interval, and
/// when a token names a key id the set lacks — at most once per minimum gap, with concurrent
/// askers sharing the one refresh in flight, so a flood of made-up `kid`s cannot hammer the
/// identity provider. A failed refresh keeps the keys it had; a key of the document that cannot be
/// read is skipped (logged at warning with its `kid`) and the others are used.
public final class KeySetRefresher: Service, Sendable {
    /// Where the JWKS document comes from.
    public enum Source: Sendable, CustomStringConvertible {
        case file(String)
        case url(String)

        public var description: String {
            switch self {
            case .file(let path): "--jwks-file \(path)"
            case .url(let url): "--jwks-url \(url)"
            }
        }
    }

    private struct State {
        var lastRefresh: ContinuousClock.Instant?
        var inFlight: Task<Void, Never>?
    }

    public let source: Source
    private let keys: VerificationKeys
    private let interval: Duration
    private let minimumGap: Duration
    private let logger: Logger
    private let state = Mutex(State())

    /// The largest JWKS document read.
    public static let maxDocumentBytes = 1 << 20

    public init(source: Source, keys: VerificationKeys, interval: Duration, minimumGap: Duration, logger: Logger) {
        self.source = source
        self.keys = keys
        self.interval = interval
        self.minimumGap = minimumGap
        self.logger = logger
    }

    /// Reads the document and replaces the keys; throws (naming the source) when it cannot.
    public func load() async throws(HeraldError) {
        state.withLock { $0.lastRefresh = .now }
        let document: [UInt8]
        do {
            document = try await fetch()
        } catch {
            throw HeraldError(.invalidConfiguration, "cannot load the JWKS from \(source): \(error)")
        }
        do {
            let report = try await keys.replaceKeySet(with: document)
            for kid in report.unreadable {
                logger.warning("JWKS key skipped", metadata: ["herald.jwks.kid": "\(kid)", "herald.jwks.source": "\(source)"])
            }
            logger.debug("JWKS loaded", metadata: ["herald.jwks.keys": "\(report.keyIDs)"])
        } catch {
            throw HeraldError(.invalidConfiguration, "\(source): \(error.message)")
        }
    }

    /// A token named a key id the set lacks: the refresh to wait for before trying it again, or
    /// nil when the set was refreshed less than the minimum gap ago.
    public func refreshForUnknownKeyID() -> Task<Void, Never>? {
        state.withLock { state in
            if let inFlight = state.inFlight { return inFlight }
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
            guard let data = FileManager.default.contents(atPath: path) else { throw HeraldError(.invalidConfiguration, "no readable file") }
            return Array(data)
        case .url(let url):
            let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(10))
            guard response.status == .ok else { throw HeraldError(.invalidConfiguration, "HTTP \(response.status.code)") }
            return Array(buffer: try await response.body.collect(upTo: Self.maxDocumentBytes))
        }
    }
}
