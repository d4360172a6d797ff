import AsyncHTTPClient
import Crypto
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

        init() throws {
            let key = P256.Signing.PrivateKey()
            let name = try DistinguishedName { CommonName("Herald test") }
            let certificate = try Certificate(
                version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey),
                notValidBefore: Date() - 60, notValidAfter: Date() + 3600, issuer: name, subject: name,
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                    SubjectAlternativeNames([.ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1])), .dnsName("localhost")])
                },
                issuerPrivateKey: .init(key)
            )
            let certificatePEM = try certificate.serializeAsPEM().pemString
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("herald-tls-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            certificateFile = directory.appendingPathComponent("cert.pem").path
            keyFile = directory.appendingPathComponent("key.pem").path
            try certificatePEM.write(toFile: certificateFile, atomically: true, encoding: .utf8)
            try key.pemRepresentation.write(toFile: keyFile, atomically: true, encoding: .utf8)
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
            url: "wss://localhost:\(server.port)/?access_token=\(token)", tlsConfiguration: credentials.client
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

    @Test func unreadableCertificateOrKeyStopsTheStartNamingTheSetting() async throws {
        let credentials = try Credentials()
        await #expect(throws: HeraldError.self) {
            _ = try await TestServer.start { $0.tls = .init(certificateChain: "/nonexistent/cert.pem", privateKey: credentials.keyFile) }
        }
        do {
            _ = try await TestServer.start { $0.tls = .init(certificateChain: credentials.certificateFile, privateKey: credentials.certificateFile) }
            Issue.record("a certificate as the key was accepted")
        } catch let error as HeraldError {
            #expect(error.description.contains("--tls-key"))
        }
    }
}
