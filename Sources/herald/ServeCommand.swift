import ArgumentParser
import Configuration
import Foundation
import HeraldCore
import HeraldPostgres
import HeraldServer
import HeraldTokens
import Logging
import ServiceLifecycle
import UnixSignals

/// `herald serve`: run the gateway until SIGTERM or SIGINT.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run Herald. Every setting is also HERALD_<NAME> in the environment and NAME: in the --config file.",
        discussion: Setting.helpText
    )

    @Flag(help: "Development mode: generated secret and publish key, a test token, 127.0.0.1.") var dev = false
    @Option(help: "YAML file with the same settings (flag names without --), under the environment and the flags.")
    var config: String?
    @Argument(
        parsing: .allUnrecognized,
        help: ArgumentHelp("Settings as --NAME VALUE, each listed below.", valueName: "settings")
    ) var settings: [String] = []

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        var configuration: HeraldConfiguration
        do {
            let file = try (config ?? environment["HERALD_CONFIG"]).map(ConfigurationFile.load) ?? [:]
            let reader = HeraldConfiguration.reader(flags: try SettingArguments.parse(settings), environment: environment, file: file)
            configuration = try HeraldConfiguration(reader: reader, isDevelopment: dev)
        } catch {
            throw CommandFailure(error.description)
        }
        if dev {
            configuration.tokens.secret = configuration.tokens.secret ?? DevCredentials.randomSecret()
            if configuration.publishKeys.isEmpty { configuration.publishKeys = [DevCredentials.randomSecret()] }
        }
        let logs = configuration.logs
        LoggingSystem.bootstrap { label in
            var handler = LogLineHandler(label: label, format: logs.format)
            handler.logLevel = logs.level
            return handler
        }
        let logger = Logger(label: "herald")
        let settings = configuration
        let application: HeraldApplication
        do {
            application = try await buildApplication(configuration: configuration, logger: logger, broker: Self.broker(configuration)) { host, port in
                Output.line("listening on \(settings.tls == nil ? "ws" : "wss")://\(host):\(port)/")
                if settings.isDevelopment { await Self.announceDevelopment(settings, host: host, port: port) }
            }
        } catch let error as ConfigurationError {
            throw CommandFailure(error.description)
        }
        let group = ServiceGroup(
            configuration: .init(services: [application], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        )
        try await group.run()
        logger.info("Stopped")
    }

    /// The broker `--broker` asks for.
    private static func broker(_ configuration: HeraldConfiguration) throws(ConfigurationError) -> BrokerFactory {
        guard let text = configuration.brokerURL else { return .memory }
        guard let secret = configuration.clusterSecret else {
            throw ConfigurationError(.missingSetting, "--cluster-secret (HERALD_CLUSTER_SECRET) is required with a postgres:// --broker")
        }
        let url: PostgresURL
        do {
            url = try PostgresURL(text)
        } catch {
            throw ConfigurationError.invalid("broker", because: error)
        }
        return BrokerFactory(name: "postgres", make: PostgresBroker.maker(url, secret: secret, previous: configuration.previousClusterSecret))
    }

    /// `--dev`: print the generated credentials, a ready token and the next commands; save them for the client commands.
    private static func announceDevelopment(_ configuration: HeraldConfiguration, host: String, port: Int) async {
        let secret = configuration.tokens.secret ?? ""
        let publishKey = configuration.publishKeys.first ?? ""
        let url = "http://\(host):\(port)"
        let token = (try? await TokenIssuer(secret: secret).token()) ?? ""
        let saved = (try? DevCredentials(url: url, jwtSecret: secret, publishKey: publishKey).save()) != nil
        Output.line(
            """
            development mode: credentials generated for this run
              jwt secret:   \(secret)
              publish key:  \(publishKey)
              test token:   \(token)   (user myuserid, 1 hour)
            \(configuration.servesConsole ? "  console:      \(url)/console   (connect, subscribe, publish, watch)\n" : "")\
            \(saved ? "saved to \(DevCredentials.fileURL.path), so these work from any terminal:" : "try, from another terminal:")
              swift run herald listen myEntityId
              swift run herald publish entity myEntityId --message hi
              curl -H 'Authorization: Bearer \(publishKey)' -d '{"message":"hi"}' \(url)/entities/myEntityId/updates
            """
        )
    }
}
