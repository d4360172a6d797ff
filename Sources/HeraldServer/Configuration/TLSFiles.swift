import HeraldCore
import HeraldTokens
import NIOSSL

extension HeraldConfiguration.TLSFiles {
    /// The server TLS configuration from the PEM files; a file that cannot be read or parsed
    /// stops `serve` with a message naming the setting.
    static func load(_ files: Self) throws(HeraldError) -> TLSConfiguration {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(files.certificateChain)
        } catch {
            throw HeraldError(.invalidConfiguration, "invalid value for --tls-cert (HERALD_TLS_CERT): cannot read a PEM certificate from \(files.certificateChain)")
        }
        guard !chain.isEmpty else {
            throw HeraldError(.invalidConfiguration, "invalid value for --tls-cert (HERALD_TLS_CERT): no certificate in \(files.certificateChain)")
        }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: files.privateKey, format: .pem)
        } catch {
            throw HeraldError(.invalidConfiguration, "invalid value for --tls-key (HERALD_TLS_KEY): cannot read a PEM private key from \(files.privateKey)")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        return configuration
    }
}
