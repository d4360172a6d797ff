import Configuration
import HeraldServer
import Testing

/// Absurd numbers in the configuration are start-up errors naming the setting: today
/// `99999999999999999999h` trapped while parsing, and a `max-message-bytes` past 4 GiB passed
/// parsing and then tripped NIOWebSocket's precondition at the first connection.
@Suite struct ConfigurationBoundsTests {
    static let durations = [
        "jwks-refresh-interval", "jwks-min-refresh-interval", "token-leeway", "ping-interval", "idle-timeout",
        "max-connection-lifetime", "history-ttl", "drain-timeout",
    ]

    private func load(_ settings: [String: String]) throws {
        var flags = settings.mapValues { ConfigContent.string($0) }
        flags["subscription-auth"] = flags["subscription-auth"] ?? .string("hook")
        flags["auth-hook-url"] = .string("http://127.0.0.1:9/authorise")
        _ = try HeraldConfiguration(reader: HeraldConfiguration.reader(flags: flags, environment: [:]), isDevelopment: true)
    }

    @Test(arguments: durations + ["auth-hook-timeout", "auth-hook-cache-ttl"])
    func aDurationPastTenYearsIsRefused(setting: String) throws {
        for absurd in ["99999999999999999999h", "1e300s", "1e300", "87601h"] {
            #expect(
                "\(setting)=\(absurd)",
                performing: { try load([setting: absurd]) },
                throws: { "\($0)".hasPrefix("invalid value for --\(setting) ") }
            )
        }
    }

    @Test func sizesAndCountsPastTheirBoundsAreRefused() throws {
        let cases = [
            ("max-message-bytes", "8GiB"), ("max-message-bytes", "67108865"), ("max-message-bytes", "9223372036854775807KiB"),
            ("outbound-buffer-bytes", "99999999999999999999"), ("auth-hook-concurrency", "0"), ("auth-hook-concurrency", "4097"),
            ("auth-hook-concurrency", "1e3"),
        ]
        for (setting, absurd) in cases {
            #expect(
                "\(setting)=\(absurd)",
                performing: { try load([setting: absurd]) },
                throws: { "\($0)".hasPrefix("invalid value for --\(setting) ") }
            )
        }
        try load(["max-message-bytes": "64MiB", "auth-hook-concurrency": "4096", "history-ttl": "87600h"])
    }

    /// The SigV4 settings: a region name, and host names without scheme or path.
    @Test func signatureSettingsAreValidated() throws {
        for (setting, bad) in [
            ("aws-region", "us east 1"), ("aws-region", "eu-west-1/"), ("public-host", "https://push.example.com"),
            ("public-host", "a.example,b.example/x"),
        ] {
            #expect("\(setting)=\(bad)", performing: { try load([setting: bad]) }, throws: { "\($0)".hasPrefix("invalid value for --\(setting) ") })
        }
        let flags: [String: ConfigContent] = [
            "aws-region": .string("EU-West-1"), "public-host": .stringArray(["Push.example.com", "push.example.com:8443"]),
        ]
        let configuration = try HeraldConfiguration(reader: HeraldConfiguration.reader(flags: flags, environment: [:]), isDevelopment: true)
        #expect(configuration.awsRegion == "eu-west-1" && configuration.publicHosts == ["push.example.com", "push.example.com:8443"])
        let defaults = try HeraldConfiguration(
            reader: HeraldConfiguration.reader(flags: [:], environment: ["AWS_REGION": "ap-south-1"]),
            isDevelopment: true
        )
        #expect(defaults.awsRegion == "us-east-1" && defaults.publicHosts.isEmpty, "AWS_REGION is not Herald's setting")
    }
}
