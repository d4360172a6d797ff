import HeraldCore
import HeraldPostgres
import HeraldServer

/// The nodes of the cluster tests: servers whose broker is a PostgreSQL database, sharing one secret.
enum ClusterNodes {
    static let secret = ClusterSecret("test-cluster-secret-0123456789abcdef-0123456789abcdef")!

    /// The broker of a node of the cluster whose database is `database`.
    static func broker(_ database: PostgresURL, secret: ClusterSecret = secret, previous: ClusterSecret? = nil) -> BrokerFactory {
        BrokerFactory(name: "postgres", make: PostgresBroker.maker(database, secret: secret, previous: previous))
    }

    /// A node of the cluster whose database is `database`.
    static func node(
        _ database: PostgresURL,
        secret: ClusterSecret = secret,
        previous: ClusterSecret? = nil,
        _ configure: (inout HeraldConfiguration) -> Void = { _ in }
    ) async throws -> TestServer {
        try await TestServer.start(broker: broker(database, secret: secret, previous: previous), configure)
    }
}
