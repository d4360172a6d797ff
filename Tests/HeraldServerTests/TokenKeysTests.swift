import CryptoExtras
import Foundation
import HeraldClient
import HeraldCore
import JWTKit
import Testing

@testable import HeraldServer
@testable import HeraldTokens

/// Public-key tokens (RS*, ES*, EdDSA from a PEM file), the algorithm list as the only list,
/// and the `iss` / `aud` checks (PROTOCOL.md §1).
@Suite struct TokenKeysTests {
    struct Claims: JWTPayload {
        var exp = Int(Date().timeIntervalSince1970) + 3600
        var sub = "u1"
        var iss: String?
        var aud: [String]?
        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    /// A signing key of one algorithm and its public half as PEM.
    struct SigningKey {
        let keys: JWTKeyCollection
        let publicKeyPEM: String

        static func make(_ algorithm: String) async throws -> SigningKey {
            let keys = JWTKeyCollection()
            switch algorithm {
            case "RS256", "RS384", "RS512":
                let key = try Insecure.RSA.PrivateKey(backing: _RSA.Signing.PrivateKey(keySize: .bits2048))
                let digest: DigestAlgorithm = algorithm == "RS256" ? .sha256 : algorithm == "RS384" ? .sha384 : .sha512
                await keys.add(rsa: key, digestAlgorithm: digest)
                return SigningKey(keys: keys, publicKeyPEM: key.publicKey.pemRepresentation)
            case "ES256":
                let key = ES256PrivateKey()
                await keys.add(ecdsa: key)
                return SigningKey(keys: keys, publicKeyPEM: key.publicKey.pemRepresentation)
            case "ES384":
                let key = ES384PrivateKey()
                await keys.add(ecdsa: key)
                return SigningKey(keys: keys, publicKeyPEM: key.publicKey.pemRepresentation)
            default:
                let key = try EdDSA.PrivateKey()
                await keys.add(eddsa: key)
                return SigningKey(keys: keys, publicKeyPEM: key.publicKey.pemRepresentation)
            }
        }

        func sign(_ claims: Claims = Claims()) async throws -> String {
            try await keys.sign(claims)
        }
    }

    static func pemFile(_ pem: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("herald-key-\(UUID().uuidString).pem").path
        try pem.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func verifier(
        publicKeyPEM: String?,
        algorithms: [String],
        secret: String? = nil,
        issuer: String? = nil,
        audience: String? = nil
    ) async throws -> TokenVerifier {
        var tokens = HeraldConfiguration.Tokens()
        tokens.secret = secret
        tokens.publicKeyFile = try publicKeyPEM.map(pemFile)
        tokens.algorithms = algorithms
        tokens.issuer = issuer
        tokens.audience = audience
        return try await TokenVerifier(configuration: tokens)
    }

    private func reason(_ result: Result<Identity, TokenRejection>) -> TokenRejection.Reason? {
        if case .failure(let rejection) = result { return rejection.reason }
        return nil
    }

    @Test(arguments: ["RS256", "RS384", "RS512", "ES256", "ES384", "EdDSA"])
    func eachAlgorithmVerifiesWithItsKeyAndNotWithAnother(algorithm: String) async throws {
        let (right, wrong) = (try await SigningKey.make(algorithm), try await SigningKey.make(algorithm))
        let verifier = try await Self.verifier(publicKeyPEM: right.publicKeyPEM, algorithms: [algorithm])
        #expect(try verifier.verify(await right.sign()).get().userID == UserID("u1"))
        #expect(reason(verifier.verify(try await wrong.sign())) == .invalid)
    }

    @Test func aTokensAlgNeverWidensTheConfiguredList() async throws {
        let rsa = try await SigningKey.make("RS256")
        let ec = try await SigningKey.make("ES256")
        let onlyRS256 = try await Self.verifier(publicKeyPEM: rsa.publicKeyPEM, algorithms: ["RS256"])
        // HS/RS confusion: an HS256 token whose HMAC secret is the public key everybody can read.
        let forger = JWTKeyCollection()
        await forger.add(hmac: HMACKey(from: rsa.publicKeyPEM), digestAlgorithm: .sha256)
        let forged = try await forger.sign(Claims())
        #expect(reason(onlyRS256.verify(forged)) == .invalid)
        // Even with HS256 allowed, its key is the configured secret, never the public key.
        let mixed = try await Self.verifier(
            publicKeyPEM: rsa.publicKeyPEM,
            algorithms: ["HS256", "RS256"],
            secret: TestServer.secret
        )
        #expect(reason(mixed.verify(forged)) == .invalid)
        // alg none, with and without a signature.
        let payload = Array(try JSONEncoder().encode(Claims()))
        let unsigned =
            "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0."
            + Data(payload).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        #expect(reason(onlyRS256.verify(unsigned + ".")) == .invalid)
        #expect(reason(mixed.verify(unsigned + ".")) == .invalid)
        // An ES256 token when only RS256 is configured (its key is not even loaded).
        #expect(reason(onlyRS256.verify(try await ec.sign())) == .invalid)
    }

    @Test func anOversizedTokenIsRefusedBeforeItIsRead() async throws {
        let key = try await SigningKey.make("ES256")
        var tokens = HeraldConfiguration.Tokens()
        tokens.publicKeyFile = try Self.pemFile(key.publicKeyPEM)
        tokens.algorithms = ["ES256"]
        tokens.maxBytes = 200
        let verifier = try await TokenVerifier(configuration: tokens)
        let token = try await key.sign()
        #expect(token.utf8.count < 200)
        #expect(reason(verifier.verify(token)) == nil)
        let padded = try await key.sign(Claims(sub: String(repeating: "u", count: 200)))
        #expect(verifier.verify(padded) == .failure(TokenRejection(.invalid, "the token is longer than 200 bytes")))
    }

    @Test func aKeyThatFitsNoConfiguredAlgorithmStopsStartUp() async throws {
        let ec = try await SigningKey.make("ES256")
        await #expect(throws: TokenError.self) {
            _ = try await Self.verifier(publicKeyPEM: ec.publicKeyPEM, algorithms: ["RS256"])
        }
        await #expect(throws: TokenError.self) {
            _ = try await Self.verifier(publicKeyPEM: "not a key", algorithms: ["ES256"])
        }
    }

    @Test func issuerAndAudienceAreChecked() async throws {
        let key = try await SigningKey.make("ES256")
        let verifier = try await Self.verifier(
            publicKeyPEM: key.publicKeyPEM,
            algorithms: ["ES256"],
            issuer: "https://idp.example",
            audience: "herald"
        )
        func reason(iss: String?, aud: [String]?) async throws -> TokenRejection.Reason? {
            self.reason(verifier.verify(try await key.sign(Claims(iss: iss, aud: aud))))
        }
        #expect(try await reason(iss: "https://idp.example", aud: ["other", "herald"]) == nil)
        #expect(try await reason(iss: "https://evil.example", aud: ["herald"]) == .claimMismatch)
        #expect(try await reason(iss: nil, aud: ["herald"]) == .claimMismatch)
        #expect(try await reason(iss: "https://idp.example", aud: ["other"]) == .claimMismatch)
        #expect(try await reason(iss: "https://idp.example", aud: nil) == .claimMismatch)
        // A single-string aud (RFC 7519 allows both forms).
        #expect(
            verifier.check(JSON.parse(#"{"exp":4000000000,"sub":"u","iss":"https://idp.example","aud":"herald"}"#)!, now: 0).map(\.userID)
                == .success(UserID("u")!)
        )
    }

    @Test func aLiveServerAcceptsPublicKeyTokensAndRefusesClaimMismatches() async throws {
        let key = try await SigningKey.make("EdDSA")
        let path = try Self.pemFile(key.publicKeyPEM)
        let server = try await TestServer.start {
            $0.tokens.secret = nil
            $0.tokens.publicKeyFile = path
            $0.tokens.algorithms = ["EdDSA"]
            $0.tokens.audience = "herald"
        }
        let token = try await key.sign(Claims(aud: ["herald"]))
        let socket = try await HeraldSocket.connect(url: server.wsURL + "?access_token=" + token)
        try await socket.expectNothingPending()
        let (status, body) = try await server.upgradeAttempt(query: "?access_token=" + (try await key.sign(Claims(aud: ["billing"]))))
        #expect(status == 401)
        #expect(body?["reason"] == "claim_mismatch")
        try await server.stop()
    }
}
