import Foundation
import JWTKit
import Synchronization

/// The keys tokens are verified with, by algorithm name: those made at start-up from the secret
/// and the PEM public key (used whatever the token's `kid`), and those of the JWKS document, by
/// `kid`, replaced by each refresh. Only configured algorithms are ever in either.
public final class VerificationKeys: Sendable {
    /// What verifies a token with this `alg` and `kid`.
    enum Lookup {
        /// These keys (one, unless a token without `kid` meets several JWKS keys of its algorithm).
        case keys([any JWTAlgorithm])
        /// The algorithm is not configured or has no key: `token_invalid`.
        case notAllowed
        /// The JWKS has no key with this id (yet): worth one refresh.
        case unknownKeyID
    }

    /// The HMAC algorithms and their digests.
    static let hmacAlgorithms: [String: DigestAlgorithm] = ["HS256": .sha256, "HS384": .sha384, "HS512": .sha512]
    /// The RSA (PKCS #1 v1.5) algorithms and their digests.
    static let rsaAlgorithms: [String: DigestAlgorithm] = ["RS256": .sha256, "RS384": .sha384, "RS512": .sha512]

    private let configured: Set<String>
    private let fixed: [String: any JWTAlgorithm]
    private let keySet = Mutex<[String: [String: any JWTAlgorithm]]>([:])
    /// True when a JWKS document is configured.
    let usesKeySet: Bool

    /// Makes the keys of the secret and the PEM public key; a public key that none of the
    /// configured algorithms can use is a configuration error.
    public init(configuration: TokenConfiguration) async throws(TokenError) {
        let publicKey = try configuration.publicKeyFile.map(Self.readPEM)
        var fixed: [String: any JWTAlgorithm] = [:]
        for name in configuration.algorithms {
            fixed[name] = await Self.algorithm(name, secret: configuration.secret, publicKeyPEM: publicKey)
        }
        if publicKey != nil, !fixed.keys.contains(where: { Self.hmacAlgorithms[$0] == nil }) {
            throw TokenError(
                .unusableKey,
                "no RSA (2048 bits or more), P-256, P-384 or Ed25519 public key usable by the algorithms \(configuration.algorithms.joined(separator: ","))"
            )
        }
        self.fixed = fixed
        configured = Set(configuration.algorithms)
        usesKeySet = configuration.jwksFile != nil || configuration.jwksURL != nil
    }

    func lookup(alg: String, kid: String?) -> Lookup {
        guard configured.contains(alg) else { return .notAllowed }
        if usesKeySet, let kid {
            if let byAlgorithm = keySet.withLock({ $0[kid] }) { return byAlgorithm[alg].map { .keys([$0]) } ?? .notAllowed }
            return fixed[alg].map { .keys([$0]) } ?? .unknownKeyID
        }
        if let key = fixed[alg] { return .keys([key]) }
        let candidates = keySet.withLock { $0.values.compactMap { $0[alg] } }
        return candidates.isEmpty ? .notAllowed : .keys(candidates)
    }

    /// What a JWKS document gave: how many key ids are now in use, and the keys left out because
    /// they could not be read (each by its `kid`, or its position when it has none).
    public struct KeySetReport: Sendable, Equatable {
        public var keyIDs: Int
        public var unreadable: [String]
    }

    /// Replaces the JWKS keys with those of `document` (a JWKS JSON text). Each key is read on its
    /// own: one jwt-kit cannot read (a symmetric `oct` key, an unknown `kty`, broken parameters, no
    /// `kid`) is left out and reported, and the others are used. Keys that fit no configured
    /// asymmetric algorithm are left out silently (providers publish keys for other uses).
    @discardableResult
    public func replaceKeySet(with document: [UInt8]) async throws(TokenError) -> KeySetReport {
        guard let entries = try? JSONDecoder().decode(KeySetEntries.self, from: Data(document)).keys else {
            throw TokenError(.keySetUnavailable, "the JWKS document is not a JSON Web Key Set")
        }
        var keys: [String: [String: any JWTAlgorithm]] = [:]
        var unreadable: [String] = []
        for (index, entry) in entries.enumerated() {
            guard let jwk = entry.key, let kid = jwk.keyIdentifier, let collection = try? await JWTKeyCollection().add(jwk: jwk) else {
                unreadable.append(entry.kid ?? "#\(index)")
                continue
            }
            // HMAC keys never come from a JWKS: shared secrets have no business in a public document.
            for name in configured where Self.hmacAlgorithms[name] == nil {
                if let algorithm = try? await collection.getKey(for: kid, alg: name), algorithm.name == name {
                    keys[kid.string, default: [:]][name] = algorithm
                }
            }
        }
        keySet.withLock { $0 = keys }
        return KeySetReport(keyIDs: keys.count, unreadable: unreadable)
    }

    /// jwt-kit's algorithm `name` keyed with the secret or the public key, or nil when neither fits it.
    private static func algorithm(_ name: String, secret: String?, publicKeyPEM pem: String?) async -> (any JWTAlgorithm)? {
        let keys = JWTKeyCollection()
        if let digest = hmacAlgorithms[name] {
            // jwt-kit wants an HMAC key at least as long as the digest: an algorithm whose digest is
            // longer than the secret is not offered (its tokens are refused as not allowed).
            guard let secret, secret.utf8.count >= TokenVerifier.digestBytes[name, default: 64] else { return nil }
            await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: digest)
        } else if let digest = rsaAlgorithms[name] {
            guard let pem, let key = try? Insecure.RSA.PublicKey(pem: pem) else { return nil }
            await keys.add(rsa: key, digestAlgorithm: digest)
        } else if name == "ES256" {
            guard let pem, let key = try? ES256PublicKey(pem: pem) else { return nil }
            await keys.add(ecdsa: key)
        } else if name == "ES384" {
            guard let pem, let key = try? ES384PublicKey(pem: pem) else { return nil }
            await keys.add(ecdsa: key)
        } else if name == "EdDSA" {
            guard let pem, let key = try? EdDSA.PublicKey(pem: pem) else { return nil }
            await keys.add(eddsa: key)
        }
        // The key decides the algorithm (a P-256 key is ES256 whatever was asked): keep exact matches only.
        guard let algorithm = try? await keys.getKey(alg: name), algorithm.name == name else { return nil }
        return algorithm
    }

    private static func readPEM(_ path: String) throws(TokenError) -> String {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw TokenError(.unreadableKey, "cannot read a PEM file at \(path)")
        }
        return text
    }
}

/// A JWKS document read key by key: an entry jwt-kit cannot decode does not sink the others.
private struct KeySetEntries: Decodable {
    struct Entry: Decodable {
        /// The key, when jwt-kit can decode it.
        let key: JWK?
        /// Its `kid`, whatever else it holds.
        let kid: String?

        private enum CodingKeys: String, CodingKey { case kid }

        init(from decoder: any Decoder) throws {
            kid = try? decoder.container(keyedBy: CodingKeys.self).decodeIfPresent(String.self, forKey: .kid)
            key = try? JWK(from: decoder)
        }
    }

    let keys: [Entry]
}
