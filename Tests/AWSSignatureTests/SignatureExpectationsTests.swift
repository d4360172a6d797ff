import Testing

@testable import AWSSignature

/// What a server requires a signature to claim, and its memory of signatures already used.
@Suite struct SignatureExpectationsTests {
    @Test func hostNamesMatchWithAnyPortUnlessOneIsNamed() {
        #expect(AWSSignatureV4.host("push.example.com", matches: "push.example.com"))
        #expect(AWSSignatureV4.host("PUSH.example.com:8443", matches: "push.example.com"))
        #expect(AWSSignatureV4.host("push.example.com:8443", matches: "push.example.com:8443"))
        #expect(!AWSSignatureV4.host("push.example.com:9000", matches: "push.example.com:8443"))
        #expect(!AWSSignatureV4.host("push.example.com", matches: "push.example.com:8443"))
        #expect(!AWSSignatureV4.host("push.example.com.evil.example", matches: "push.example.com"))
        #expect(AWSSignatureV4.host("[::1]:8080", matches: "[::1]"))
        #expect(!AWSSignatureV4.host("[::2]", matches: "[::1]"))
    }

    @Test func aBodyIsALengthOtherThanZeroOrAnyTransferEncoding() {
        func request(_ headers: [(name: String, value: String)]) -> AWSSignatureV4.Request {
            .init(method: "POST", rawPath: "/", rawQuery: "", headers: headers, bodySHA256Hex: "")
        }
        #expect(!AWSSignatureV4.hasBody(request([])))
        #expect(!AWSSignatureV4.hasBody(request([("Content-Length", "0")])))
        #expect(AWSSignatureV4.hasBody(request([("content-length", "1")])))
        #expect(AWSSignatureV4.hasBody(request([("Transfer-Encoding", "chunked")])))
    }

    private func signature(_ byte: UInt8, expiresAt: Int) -> AWSSignatureV4.Signature {
        .init(bytes: [UInt8](repeating: byte, count: 32), expiresAt: expiresAt)
    }

    @Test func aSignatureIsAcceptedOnceUntilItsWindowEnds() {
        var cache = AWSSignatureV4.ReplayCache(capacity: 10)
        #expect(cache.firstUse(of: signature(1, expiresAt: 900), now: 0) == true)
        #expect(cache.firstUse(of: signature(1, expiresAt: 900), now: 900) == false)
        #expect(cache.firstUse(of: signature(2, expiresAt: 900), now: 0) == true)
        // Expired entries are dropped as new ones come.
        #expect(cache.firstUse(of: signature(3, expiresAt: 2_000), now: 901) == true)
        #expect(cache.count == 1 && cache.forgottenEarly == 0)
    }

    /// No more than `capacity` signatures, whatever comes: the one kept longest goes first, counted.
    @Test func theCacheIsBounded() {
        var cache = AWSSignatureV4.ReplayCache(capacity: 100)
        for index in 0..<10_000 {
            let bytes = withUnsafeBytes(of: UInt64(index)) { Array($0) } + [UInt8](repeating: 0, count: 24)
            #expect(cache.firstUse(of: .init(bytes: bytes, expiresAt: 900), now: 0) == true)
        }
        #expect(cache.count == 100)
        #expect(cache.forgottenEarly == 9_900)
        let newest = withUnsafeBytes(of: UInt64(9_999)) { Array($0) } + [UInt8](repeating: 0, count: 24)
        #expect(cache.firstUse(of: .init(bytes: newest, expiresAt: 900), now: 1) == false)
    }
}
