import AsyncHTTPClient
import Crypto
import CryptoExtras
import Foundation
import HeraldClient
import HeraldCore
import HeraldServer
import NIOCore
import NIOHTTP1
import NIOSSL
import SwiftASN1
import Testing
import X509

/// `--tls-cert` / `--tls-key`: `https://` and `wss://` straight from Herald, with a certificate
/// made in the test for 127.0.0.1.
@Suite struct TLSTests {
    /// A self-signed P-256 certificate for 127.0.0.1 and localhost, written as PEM files; and a client that trusts only it.
    struct Credentials {
        let certificateFile: String
        let keyFile: String
        let client: TLSConfiguration

        /// The key type decides which TLS 1.2 suites can be negotiated at all (ECDSA or RSA authentication).
        enum KeyType { case p256, rsa }

        init(_ keyType: KeyType = .p256) throws {
            let key: Certificate.PrivateKey
            let keyPEM: String
            switch keyType {
            case .p256:
                let p256 = P256.Signing.PrivateKey()
                (key, keyPEM) = (.init(p256), p256.pemRepresentation)
            case .rsa:
                let rsa = try _RSA.Signing.PrivateKey(keySize: .bits2048)
                (key, keyPEM) = (.init(rsa), rsa.pemRepresentation)
            }
            let name = try DistinguishedName { CommonName("Herald test") }
            let certificate = try Certificate(
                version: .v3,
                serialNumber: .init(),
                publicKey: key.publicKey,
                notValidBefore: Date() - 60,
                notValidAfter: Date() + 3600,
                issuer: name,
                subject: name,
                signatureAlgorithm: keyType == .p256 ? .ecdsaWithSHA256 : .sha256WithRSAEncryption,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                    SubjectAlternativeNames([.ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1])), .dnsName("localhost")])
                },
                issuerPrivateKey: key
            )
            let certificatePEM = try certificate.serializeAsPEM().pemString
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("herald-tls-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            certificateFile = directory.appendingPathComponent("cert.pem").path
            keyFile = directory.appendingPathComponent("key.pem").path
            try certificatePEM.write(toFile: certificateFile, atomically: true, encoding: .utf8)
            try keyPEM.write(toFile: keyFile, atomically: true, encoding: .utf8)
            var client = TLSConfiguration.makeClientConfiguration()
            client.trustRoots = .certificates([try NIOSSLCertificate(bytes: Array(certificatePEM.utf8), format: .pem)])
            self.client = client
        }
    }

    @Test func httpsAndWSSServeWithTheConfiguredCertificate() async throws {
        let credentials = try Credentials()
        let server = try await TestServer.start {
            $0.tls = .init(certificateChain: credentials.certificateFile, privateKey: credentials.keyFile)
        }
        let https = "https://127.0.0.1:\(server.port)"
        let client = HTTPClient(configuration: .init(tlsConfiguration: credentials.client))
        do {
            try await exchange(server: server, https: https, client: client, credentials: credentials)
        } catch {
            try await client.shutdown()
            throw error
        }
        try await client.shutdown()
        try await server.stop()
    }

    private func exchange(server: TestServer, https: String, client: HTTPClient, credentials: Credentials) async throws {
        let health = try await client.execute(HTTPClientRequest(url: https + "/health"), timeout: .seconds(10))
        #expect(health.status == .ok)
        _ = try await health.body.collect(upTo: 1 << 16)

        let token = try await server.token(user: "tls-user")
        let socket = try await HeraldSocket.connect(
            // By name: a TLS client sends the host as SNI, and an IP address may not be one.
            url: "wss://localhost:\(server.port)/?access_token=\(token)",
            tlsConfiguration: credentials.client
        )
        socket.send(#"{"action":"subscribe","entityId":"secure"}"#)
        #expect(try await socket.json()["type"] == "subscribed")
        var publish = HTTPClientRequest(url: https + "/entities/secure/updates")
        publish.method = .POST
        publish.headers.add(name: "Authorization", value: "Bearer \(TestServer.publishKey)")
        publish.body = .bytes(ByteBuffer(string: #"{"message":"over TLS"}"#))
        let published = try await client.execute(publish, timeout: .seconds(10))
        #expect(published.status == .accepted)
        #expect(try await socket.json()["message"] == "over TLS")

        // A refusal that closes the connection (Connection: close, then TLS's close_notify) is read in full.
        publish.headers.replaceOrAdd(name: "Authorization", value: "Bearer wrong-key")
        let refused = try await client.execute(publish, timeout: .seconds(10))
        #expect(refused.status == .unauthorized)
        #expect(refused.headers["connection"] == ["close"])
        #expect(JSON.parse(try await refused.body.collect(upTo: 1 << 16).readableBytesView)?["reason"] == "unauthorized")

    }

    /// Forward-secret, authenticated encryption only (Mozilla "intermediate"): TLS 1.3, and for TLS 1.2
    /// ECDHE with AES-GCM or ChaCha20-Poly1305. Asked suite by suite by a real TLS client (Python's
    /// OpenSSL, every suite allowed on its side), with an RSA and an ECDSA certificate.
    @Test func onlyForwardSecretAEADSuitesAreOffered() async throws {
        let tls12Suites = [
            "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
            "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
            "AES128-GCM-SHA256", "AES256-GCM-SHA384", "AES128-SHA", "AES256-SHA", "ECDHE-RSA-AES128-SHA",
            "ECDHE-ECDSA-AES128-SHA", "ECDHE-RSA-AES256-SHA", "DES-CBC3-SHA",
        ]
        let script = """
            import socket, ssl, sys
            port = int(sys.argv[1])
            def attempt(version, suite=None):
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
                context.minimum_version = context.maximum_version = version
                try:
                    if suite: context.set_ciphers(suite + ":@SECLEVEL=0")
                    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
                        with context.wrap_socket(raw) as tls: return tls.cipher()[0]
                except (ssl.SSLError, OSError): return None
            for suite in sys.argv[2:]:
                if attempt(ssl.TLSVersion.TLSv1_2, suite): print(suite)
            print("tls1.3" if attempt(ssl.TLSVersion.TLSv1_3) else "no tls1.3")
            print("tls1.1" if attempt(ssl.TLSVersion.TLSv1_1, "ALL") else "no tls1.1")
            """
        for (keyType, expected) in [
            (Credentials.KeyType.rsa, ["ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-CHACHA20-POLY1305"]),
            (.p256, ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305"]),
        ] {
            let credentials = try Credentials(keyType)
            let server = try await TestServer.start {
                $0.tls = .init(certificateChain: credentials.certificateFile, privateKey: credentials.keyFile)
            }
            let result = try await runToEnd("/usr/bin/env", ["python3", "-c", script, "\(server.port)"] + tls12Suites)
            #expect(result.status == 0, "\(result.errors)")
            #expect(result.output.split(separator: "\n").map(String.init) == expected + ["tls1.3", "no tls1.1"], "\(keyType)")
            try await server.stop()
        }
    }

    @Test func unreadableCertificateOrKeyStopsTheStartNamingTheSetting() async throws {
        let credentials = try Credentials()
        await #expect(throws: ConfigurationError.self) {
            _ = try await TestServer.start { $0.tls = .init(certificateChain: "/nonexistent/cert.pem", privateKey: credentials.keyFile) }
        }
        do {
            _ = try await TestServer.start { $0.tls = .init(certificateChain: credentials.certificateFile, privateKey: credentials.certificateFile) }
            Issue.record("a certificate as the key was accepted")
        } catch let error as ConfigurationError {
            #expect(error.description.contains("--tls-key"))
        }
    }
}
