import Hummingbird
import Logging
import ServiceLifecycle

/// A small HTTP application of the tests' own (an identity provider, an authorisation hook) on
/// 127.0.0.1 and a free port.
struct LocalHTTPServer: Sendable {
    let port: Int
    private let group: ServiceGroup
    private let running: Task<Void, any Error>

    /// Starts `router` and returns once it listens.
    static func start(_ router: Router<BasicRequestContext>) async throws -> LocalHTTPServer {
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let logger = Logger(label: "herald.test.http", factory: { _ in SwiftLogNoOpLogHandler() })
        let application = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) },
            logger: logger
        )
        let group = ServiceGroup(configuration: .init(services: [application], logger: logger))
        let running = Task { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw TestFailure("the test HTTP server did not start") }
        return LocalHTTPServer(port: port, group: group, running: running)
    }

    func stop() async throws {
        await group.triggerGracefulShutdown()
        try await running.value
    }
}
