import Configuration
import Foundation
import HeraldCore
import HeraldServer
import HeraldTokens
import Logging
import Testing

/// `--config herald.yaml`: parsing, the layering defaults < file < environment < flags, and every validation error.
@Suite struct ConfigurationFileTests {
    static let example = """
        # a comment
        port: 9000
        history-ttl: 5m
        max-message-bytes: 16KiB
        publish-key: [one, two]
        allowed-origin:
          - https://app.example
        log-format: json
        log-level: warning
        jwt-secret: file-secret-0123456789abcdef-0123456789
        """

    @Test func valuesAreReadInTheFlagsForm() throws {
        let values = try ConfigurationFile.parse(Self.example, name: "herald.yaml")
        #expect(values["port"] == .string("9000"))
        #expect(values["publish-key"] == .stringArray(["one", "two"]))
        #expect(values["allowed-origin"] == .stringArray(["https://app.example"]))
        let configuration = try HeraldConfiguration(
            reader: HeraldConfiguration.reader(flags: [:], environment: [:], file: values),
            isDevelopment: false
        )
        #expect(configuration.listen.port == 9000)
        #expect(configuration.history.ttl == .seconds(300))
        #expect(configuration.limits.maxMessageBytes == 16_384)
        #expect(configuration.publishKeys == ["one", "two"])
        #expect(configuration.allowedOrigins == ["https://app.example"])
        #expect(configuration.logs.format == .json)
        #expect(configuration.logs.level == .warning)
    }

    /// The keys are the flag names; the earlier plural spellings still work, in the file and the environment.
    @Test func repeatableSettingsTakeTheirFlagNameOrTheEarlierSpelling() throws {
        let file = try ConfigurationFile.parse("publish-keys: [old-spelling]\nallowed-origins: https://a.example", name: "herald.yaml")
        #expect(file["publish-key"] == .stringArray(["old-spelling"]))
        #expect(file["allowed-origin"] == .string("https://a.example"))
        let configuration = try HeraldConfiguration(
            reader: HeraldConfiguration.reader(
                flags: [:],
                environment: ["HERALD_ALLOWED_ORIGINS": "https://b.example,https://c.example"],
                file: file
            ),
            isDevelopment: false
        )
        #expect(configuration.publishKeys == ["old-spelling"])
        #expect(configuration.allowedOrigins == ["https://b.example", "https://c.example"])
        let both = try HeraldConfiguration(
            reader: HeraldConfiguration.reader(flags: [:], environment: ["HERALD_PUBLISH_KEY": "new", "HERALD_PUBLISH_KEYS": "old"]),
            isDevelopment: false
        )
        #expect(both.publishKeys == ["new"])
    }

    /// `serve`'s command line: `--name value` and `--name=value` of the table, repeatable ones collected; anything else refused.
    @Test func commandLineSettingsComeFromTheTable() throws {
        let values = try SettingArguments.parse(["--port", "9000", "--publish-key=a", "--publish-key", "b", "--port=9001"])
        #expect(values["port"] == .string("9001"))
        #expect(values["publish-key"] == .stringArray(["a", "b"]))
        let refusals: [([String], String)] = [
            (["--max-conections", "5"], "unknown option --max-conections"),
            (["--port"], "--port needs a value"),
            (["9000"], "unexpected argument \"9000\""),
            (["--publish-keys", "a"], "unknown option --publish-keys"),
        ]
        for (arguments, message) in refusals {
            #expect(throws: ConfigurationError.self) { try SettingArguments.parse(arguments) }
            do { _ = try SettingArguments.parse(arguments) } catch { #expect(error.description.contains(message), "\(error)") }
        }
    }

    @Test func environmentOverridesTheFileAndFlagsOverrideBoth() throws {
        let file = try ConfigurationFile.parse("port: 9000\nhistory-size: 7\ndrain-timeout: 3s\npublish-key: [from-file]", name: "herald.yaml")
        let environment = ["HERALD_PORT": "9001", "HERALD_HISTORY_SIZE": "8", "HERALD_PUBLISH_KEY": "from-env"]
        let flags: [String: ConfigContent] = ["port": .string("9002")]
        let configuration = try HeraldConfiguration(
            reader: HeraldConfiguration.reader(flags: flags, environment: environment, file: file),
            isDevelopment: false
        )
        #expect(configuration.listen.port == 9002)  // flag
        #expect(configuration.history.size == 8)  // environment
        #expect(configuration.publishKeys == ["from-env"])  // environment
        #expect(configuration.drainTimeout == .seconds(3))  // file
        #expect(configuration.limits.maxSubscriptions == 100)  // default
    }

    @Test func nullsAndEmptyVariablesLeaveASettingToTheLayerBelow() throws {
        let file = try ConfigurationFile.parse("port: 9000\njwt-issuer: null\njwt-audience: ~\nhistory-size:\n", name: "herald.yaml")
        #expect(file.keys.sorted() == ["port"])
        let configuration = try HeraldConfiguration(
            reader: HeraldConfiguration.reader(flags: [:], environment: ["HERALD_PORT": ""], file: file),
            isDevelopment: false
        )
        #expect(configuration.listen.port == 9000)
        #expect(configuration.tokens.issuer == nil)
        #expect(configuration.history.size == 100)
    }

    @Test(arguments: [
        ("portt: 1", "herald.yaml (line 1): unknown setting `portt`"),
        ("port: 1\nsecret: x", "herald.yaml (line 2): unknown setting `secret`"),
        ("- port", "herald.yaml must be a map of settings"),
        ("port: {a: 1}", "herald.yaml (line 1): `port` must be a value or a list of values"),
        ("publish-key: [[a]]", "herald.yaml (line 1): `publish-key` must be a value or a list of values"),
        ("port: [1\n", "herald.yaml is not valid YAML"),
    ])
    func malformedFilesNameTheKeyAndLine(text: String, message: String) {
        #expect {
            _ = try ConfigurationFile.parse(text, name: "herald.yaml")
        } throws: { error in
            "\(error)".contains(message)
        }
    }

    @Test(arguments: [
        ("port: http", "invalid value for --port (HERALD_PORT, or `port` in the config file): expected a whole number from 0 to 65535"),
        ("history-ttl: soon", "invalid value for --history-ttl"),
        ("max-message-bytes: 1GB", "invalid value for --max-message-bytes"),
        (
            "history-max-bytes: 0",
            "invalid value for --history-max-bytes (HERALD_HISTORY_MAX_BYTES, or `history-max-bytes` in the config file): expected a size of at least 1 byte(s)"
        ),
        ("log-format: xml", "invalid value for --log-format (HERALD_LOG_FORMAT, or `log-format` in the config file): expected text or json"),
        ("log-level: loud", "invalid value for --log-level"),
        ("tls-cert: cert.pem", "invalid value for --tls-key"),
        ("tls-key: key.pem", "invalid value for --tls-cert"),
        ("broker: mysql://db/herald", "invalid value for --broker (HERALD_BROKER, or `broker` in the config file): expected memory or postgres://"),
        (
            "broker: postgres://herald@db/herald",
            "invalid value for --cluster-secret (HERALD_CLUSTER_SECRET, or `cluster-secret` in the config file): expected a secret of at least 32 bytes, the same on every node (e.g. openssl rand -base64 32), required with a postgres:// --broker"
        ),
        (
            "broker: postgres://herald@db/herald\ncluster-secret: 0123456789abcdef0123456789abcde",
            "invalid value for --cluster-secret (HERALD_CLUSTER_SECRET, or `cluster-secret` in the config file): expected a secret of at least 32 bytes, the same on every node (e.g. openssl rand -base64 32)"
        ),
        (
            "broker: postgres://herald@db/herald\ncluster-secret: 0123456789abcdef0123456789abcdef\ncluster-secret-previous: old",
            "invalid value for --cluster-secret-previous (HERALD_CLUSTER_SECRET_PREVIOUS, or `cluster-secret-previous` in the config file): expected a secret of at least 32 bytes"
        ),
    ])
    func badValuesInTheFileNameTheSetting(text: String, message: String) throws {
        let values = try ConfigurationFile.parse(text, name: "herald.yaml")
        #expect {
            _ = try HeraldConfiguration(reader: HeraldConfiguration.reader(flags: [:], environment: [:], file: values), isDevelopment: true)
        } throws: { error in
            "\(error)".contains(message)
        }
    }

    /// Every setting that takes a number, duration, size or word refuses a bad one from the file, naming itself.
    @Test(arguments: [
        "port", "max-token-bytes", "jwks-refresh-interval", "jwks-min-refresh-interval", "token-leeway", "max-connections",
        "max-connections-per-user", "max-messages-per-second", "max-header-bytes", "max-handshakes-per-second", "max-message-bytes",
        "max-subscriptions", "outbound-buffer-bytes", "ping-interval", "idle-timeout", "max-connection-lifetime", "history-size",
        "history-ttl", "history-max-bytes", "drain-timeout", "jwt-algorithms", "subscription-auth", "jwks-url", "path", "jwt-secret", "log-level",
        "log-format", "broker",
    ])
    func everyCheckedSettingRefusesABadValue(setting: String) throws {
        let values = try ConfigurationFile.parse("\(setting): \"-x\"", name: "herald.yaml")
        #expect {
            _ = try HeraldConfiguration(reader: HeraldConfiguration.reader(flags: [:], environment: [:], file: values), isDevelopment: true)
        } throws: { error in
            "\(error)".hasPrefix("invalid value for --\(setting) ")
        }
    }

    @Test func anEmptyFileSetsNothingAndAMissingFileIsAnError() throws {
        #expect(try ConfigurationFile.parse("", name: "empty.yaml").isEmpty)
        #expect(try ConfigurationFile.parse("# only a comment\n", name: "empty.yaml").isEmpty)
        #expect {
            _ = try ConfigurationFile.load("/nonexistent/herald.yaml")
        } throws: { error in
            "\(error)".contains("cannot read the config file /nonexistent/herald.yaml")
        }
    }

    /// The commented example in the repository is the one the settings table makes, and loads as it is.
    @Test func theExampleFileIsMadeFromTheSettingsTable() throws {
        let text = try String(contentsOfFile: Self.repositoryFile("herald.example.yaml"), encoding: .utf8)
        #expect(text == Setting.exampleFile, "herald.example.yaml is stale: run `swift run herald settings --yaml > herald.example.yaml`")
        let values = try ConfigurationFile.parse(text, name: "herald.example.yaml")
        let configuration = try HeraldConfiguration(
            reader: HeraldConfiguration.reader(flags: [:], environment: [:], file: values),
            isDevelopment: true
        )
        #expect(configuration.listen.port == 8080)
        for setting in Setting.all {
            #expect(text.contains("\n\(setting.name):") || text.contains("\n# \(setting.name):"), "\(setting.name) is not in the example")
        }
    }

    /// The README's settings table is the one the settings table makes.
    @Test func theReadmeTableIsMadeFromTheSettingsTable() throws {
        let readme = try String(contentsOfFile: Self.repositoryFile("README.md"), encoding: .utf8)
        #expect(readme.contains("\n" + Setting.markdownTable), "README.md's settings table is stale: paste `swift run herald settings`")
    }

    private static func repositoryFile(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(name).path
    }

    @Test func everySettingNameIsAcceptedInAFile() throws {
        let text = Setting.all.map { "\($0.name): x" }.joined(separator: "\n")
        #expect(try ConfigurationFile.parse(text, name: "all.yaml").keys.sorted() == Setting.all.map(\.name).sorted())
    }
}
