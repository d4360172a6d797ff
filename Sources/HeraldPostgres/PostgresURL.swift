import Foundation
import NIOSSL
import PostgresNIO

/// `--broker postgres://user:password@host:port/database?sslmode=…`: where the cluster's
/// database is and how to reach it.
///
/// `sslmode` is libpq's: `disable`, `prefer` (the default: TLS when the server offers it),
/// `require` (TLS, the certificate not checked), `verify-full` (TLS with the certificate checked
/// against the system's roots and the host name). The password is never logged.
public struct PostgresURL: Equatable, Sendable, CustomStringConvertible {
    public enum TLSMode: String, Sendable, CaseIterable {
        case disable
        case prefer
        case require
        case verifyFull = "verify-full"
    }

    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String
    public var tls: TLSMode

    /// Parses the URL; the error says what is wrong with it.
    public init(_ text: String) throws(PostgresBrokerError) {
        func invalid(_ problem: String) -> PostgresBrokerError {
            PostgresBrokerError(.invalidURL, "\(problem); expected postgres://user:password@host:5432/database")
        }
        guard let url = URLComponents(string: text), let scheme = url.scheme, ["postgres", "postgresql"].contains(scheme) else {
            throw invalid("not a postgres:// URL")
        }
        guard let host = url.host, !host.isEmpty else { throw invalid("the URL names no host") }
        guard let username = url.user, !username.isEmpty else { throw invalid("the URL names no user") }
        let database = url.path.hasPrefix("/") ? String(url.path.dropFirst()) : url.path
        guard !database.isEmpty, !database.contains("/") else { throw invalid("the URL names no database (…/database)") }
        var tls = TLSMode.prefer
        for item in url.queryItems ?? [] {
            guard item.name == "sslmode" else { throw invalid("unknown parameter \(item.name) (only sslmode is read)") }
            guard let mode = item.value.flatMap(TLSMode.init(rawValue:)) else {
                throw invalid("sslmode must be one of \(TLSMode.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            tls = mode
        }
        self.host = host
        self.port = url.port ?? 5432
        self.username = username
        self.password = url.password
        self.database = database
        self.tls = tls
    }

    /// The URL without its password, for logs.
    public var description: String { "postgres://\(username)@\(host):\(port)/\(database)?sslmode=\(tls.rawValue)" }

    /// The pool's configuration.
    var clientConfiguration: PostgresClient.Configuration {
        let tls: PostgresClient.Configuration.TLS =
            switch self.tls {
            case .disable: .disable
            case .prefer: .prefer(Self.unverified)
            case .require: .require(Self.unverified)
            case .verifyFull: .require(.makeClientConfiguration())
            }
        return PostgresClient.Configuration(host: host, port: port, username: username, password: password, database: database, tls: tls)
    }

    /// A single connection's configuration (the node's LISTEN connection).
    func connectionConfiguration() throws -> PostgresConnection.Configuration {
        let tls: PostgresConnection.Configuration.TLS =
            switch self.tls {
            case .disable: .disable
            case .prefer: .prefer(try NIOSSLContext(configuration: Self.unverified))
            case .require: .require(try NIOSSLContext(configuration: Self.unverified))
            case .verifyFull: .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
            }
        return PostgresConnection.Configuration(host: host, port: port, username: username, password: password, database: database, tls: tls)
    }

    /// TLS without certificate checks (`prefer` and `require`, as libpq does them).
    private static var unverified: TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = .none
        return configuration
    }
}
