import HeraldCore
import HeraldTokens
import NIOSSL

extension HeraldConfiguration.TLSFiles {
    /// The server TLS configuration from the PEM files; a file that cannot be read or parsed
    /// stops `serve` with a message naming the setting.
    static func load(_ files: Self) throws(ConfigurationError) -> TLSConfiguration {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(files.certificateChain)
        } catch {
            throw ConfigurationError.unusable("tls-cert", "cannot read a PEM certificate from \(files.certificateChain)")
        }
        guard !chain.isEmpty else {
            throw ConfigurationError.unusable("tls-cert", "no certificate in \(files.certificateChain)")
        }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: files.privateKey, format: .pem)
        } catch {
            throw ConfigurationError.unusable("tls-key", "cannot read a PEM private key from \(files.privateKey)")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        configuration.cipherSuiteValues = cipherSuites
        return configuration
    }

    /// The TLS 1.2 suites offered: forward-secret (ECDHE) and authenticated encryption (AEAD)
    /// only, in Mozilla's "intermediate" order; no static-RSA key exchange, no CBC. TLS 1.3's
    /// suites are all of that kind and always on.
    static let cipherSuites: [NIOTLSCipher] = [
        .TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, .TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        .TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, .TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        .TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, .TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ]
}
