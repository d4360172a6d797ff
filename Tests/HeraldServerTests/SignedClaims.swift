import Crypto
import Foundation

extension TestServer {
    /// An HS256 token whose payload is exactly `claims` (any JSON text, however odd its numbers),
    /// signed with the test secret: what an issuer with the secret could send.
    static func signed(claims: String) -> String {
        let input = Data(#"{"alg":"HS256","typ":"JWT"}"#.utf8).base64URL + "." + Data(claims.utf8).base64URL
        let mac = HMAC<SHA256>.authenticationCode(for: Data(input.utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return input + "." + Data(mac).base64URL
    }
}
