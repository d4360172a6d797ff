import HeraldPostgres
import HeraldServer
import HeraldTokens
import Testing

/// Each module's error says what is wrong with a value and never which setting held it; the
/// configuration layer names the setting (docs/ARCHITECTURE.md, "Errors").
@Suite struct ModuleErrorTests {
    @Test func aKeyFileThatCannotBeReadIsTheTokenModulesErrorAndTheStartNamesTheSetting() async throws {
        var tokens = HeraldConfiguration.Tokens()
        tokens.publicKeyFile = "/nonexistent/key.pem"
        tokens.algorithms = ["ES256"]
        await #expect(throws: TokenError(.unreadableKey, "cannot read a PEM file at /nonexistent/key.pem")) {
            _ = try await TokenVerifier(configuration: tokens)
        }
        await #expect(throws: ConfigurationError(.unusableValue, "--jwt-public-key: cannot read a PEM file at /nonexistent/key.pem")) {
            _ = try await TestServer.start {
                $0.tokens.secret = nil
                $0.tokens.publicKeyFile = "/nonexistent/key.pem"
                $0.tokens.algorithms = ["ES256"]
            }
        }
    }

    @Test func aKeySetThatCannotBeLoadedIsNamedByItsSourceAndTheStartNamesTheSetting() async throws {
        await #expect(
            throws: ConfigurationError(.unusableValue, "--jwks-file: cannot load the JWKS from /nonexistent/jwks.json: no readable file")
        ) {
            _ = try await TestServer.start {
                $0.tokens.secret = nil
                $0.tokens.jwksFile = "/nonexistent/jwks.json"
                $0.tokens.algorithms = ["ES256"]
            }
        }
    }

    @Test func aDatabaseURLErrorSaysWhatIsWrongWithTheURLAlone() {
        #expect(throws: PostgresBrokerError(.invalidURL, "the URL names no user; expected postgres://user:password@host:5432/database")) {
            _ = try PostgresURL("postgres://h/d")
        }
    }
}
