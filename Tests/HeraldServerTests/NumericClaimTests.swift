import Foundation
import HeraldClient
import HeraldCore
import HeraldLambda
import Testing

@testable import HeraldServer
@testable import HeraldTokens

/// `exp`, `nbf` and `iat` are NumericDates from 0 to 253402300799 (the year 9999), fractions
/// allowed: any other value in a validly signed token is `token_invalid` — on connect and on
/// `refresh` — and never reaches arithmetic that could stop the process.
@Suite struct NumericClaimTests {
    /// Numbers and non-numbers no NumericDate may be.
    static let outOfRange = [
        "9223372036854775807", "9223372036854775808", "-9223372036854775808", "1e19", "1e300", "-1e300", "1E+300",
        "-1", "-0.5", "253402300800", "253402300799.5", "123456789012345678901234567890", #""1800000000""#, #""NaN""#,
        #""1e400""#, "true", "null", "[]", "{}",
    ]

    private func verifier() async throws -> TokenVerifier {
        var tokens = HeraldConfiguration.Tokens()
        tokens.secret = TestServer.secret
        return try await TokenVerifier(configuration: tokens)
    }

    @Test func numericDatesOutsideTheRangeAreInvalid() async throws {
        let verifier = try await verifier()
        let now = 1_800_000_000.0
        for value in Self.outOfRange {
            for claims in [
                #"{"exp":\#(value),"sub":"u"}"#, #"{"exp":1800000100,"nbf":\#(value),"sub":"u"}"#,
                #"{"exp":1800000100,"iat":\#(value),"sub":"u"}"#,
            ] {
                let result = verifier.check(try #require(JSON.parse(claims)), now: now)
                guard case .failure(let rejection) = result else {
                    Issue.record("\(claims) was accepted")
                    continue
                }
                #expect(rejection.reason == .invalid, "\(claims)")
                #expect(rejection.message.contains("from 0 to 253402300799"), "\(claims): \(rejection.message)")
            }
        }
    }

    @Test func theEdgesOfTheRangeAndFractionsAreAccepted() async throws {
        let verifier = try await verifier()
        func identity(_ claims: String, now: Double = 1_800_000_000) -> Result<Identity, TokenRejection> {
            verifier.check(JSON.parse(claims)!, now: now)
        }
        // The last second of the year 9999, and a fraction: truncated in expiresAt, exact in the comparison.
        #expect(try identity(#"{"exp":253402300799,"sub":"u"}"#).get().expiresAt == 253_402_300_799)
        #expect(try identity(#"{"exp":1800000100.9,"sub":"u"}"#).get().expiresAt == 1_800_000_100)
        #expect(try identity(#"{"exp":1.8000001e9,"nbf":-0,"iat":0.5,"sub":"u"}"#).get().expiresAt == 1_800_000_100)
        func reason(_ claims: String) -> TokenRejection.Reason? {
            if case .failure(let rejection) = identity(claims) { return rejection.reason }
            return nil
        }
        #expect(reason(#"{"exp":1799999969.5,"sub":"u"}"#) == .expired)  // 30.5 s ago
        #expect(identity(#"{"exp":1799999970.5,"sub":"u"}"#).map(\.expiresAt) == .success(1_799_999_970))  // 29.5 s ago
        #expect(reason(#"{"exp":1.5,"sub":"u"}"#) == .expired)
        #expect(reason(#"{"exp":1800000100,"nbf":1800000030.5,"sub":"u"}"#) == .notYetValid)
    }

    /// Today's crash: `exp` 9223372036854775807 and 1e19 trapped converting to Int. Each absurd token
    /// is refused (401 on connect, an error frame on refresh with the connection still open), and
    /// the node serves on.
    @Test func absurdClaimsAreRefusedOnConnectAndOnRefresh() async throws {
        let server = try await TestServer.start { $0.limits.maxMessagesPerSecond = 0 }
        let future = Int(Date().timeIntervalSince1970) + 3_600
        let tokens = Self.outOfRange.flatMap { value in
            [
                #"{"exp":\#(value),"data":{"userId":"myuserid"}}"#,
                #"{"exp":\#(future),"nbf":\#(value),"data":{"userId":"myuserid"}}"#,
                #"{"exp":\#(future),"iat":\#(value),"data":{"userId":"myuserid"}}"#,
            ]
        }.map(TestServer.signed(claims:))
        for token in tokens {
            let (status, body) = try await server.upgradeAttempt(query: "?access_token=\(token)")
            #expect(status == 401 && body?["reason"] == "token_invalid", "\(body.map(\.text) ?? "no body")")
        }
        let socket = try await server.connect()
        for (index, token) in tokens.enumerated() {
            socket.send(#"{"action":"refresh","token":"\#(token)","requestId":\#(index)}"#)
            let reply = try await socket.json(timeout: .seconds(20))
            #expect(reply["type"] == "error" && reply["code"] == "token_invalid" && reply["requestId"] == .int(index), "\(reply.text)")
        }
        socket.send(#"{"action":"ping","requestId":"still-open"}"#)
        #expect(try await socket.json(timeout: .seconds(20)) == .object(["type": "pong", "requestId": "still-open"]))

        // A far but valid exp (the year 9999) is accepted, its fraction truncated.
        let far = TestServer.signed(claims: #"{"exp":253402300798.75,"data":{"userId":"myuserid"}}"#)
        socket.send(#"{"action":"refresh","token":"\#(far)"}"#)
        #expect(try await socket.json(timeout: .seconds(20)) == .object(["type": "refreshed", "expiresAt": .int(253_402_300_798)]))
        try await HeraldSocket.connect(url: server.wsURL + "?access_token=" + far).expectNothingPending()
        try await server.stop()
    }

    @Test func testTokensRefuseAbsurdLifetimes() async throws {
        let issuer = TokenIssuer(secret: TestServer.secret)
        for ttl: Duration in [.seconds(366 * 86_400), .seconds(Int64.max), .seconds(-366 * 86_400), .seconds(Int64.min)] {
            var claims = TokenIssuer.Claims()
            claims.ttl = ttl
            await #expect(throws: TokenError.self, "\(ttl)") { _ = try await issuer.token(for: claims) }
        }
        var claims = TokenIssuer.Claims()
        claims.ttl = .seconds(365 * 86_400)
        #expect(try await !issuer.token(for: claims).isEmpty)
        claims.ttl = .seconds(-120)  // an expired token, as tests make them
        #expect(try await !issuer.token(for: claims).isEmpty)
    }

    /// `herald token --ttl` takes a duration up to a year; past it, or past what a duration can
    /// be, it says so in one line (today `99999999999999999999h` stopped the process with a trap).
    @Test func theTokenCommandRefusesAbsurdLifetimes() async throws {
        // runToEnd, not HeraldProcess: it never blocks a thread of the concurrency pool on a pipe.
        let binary = CommandLineTests.binary.path
        let credentials = ["--jwt-secret", TestServer.secret]
        for ttl in ["99999999999999999999h", "1e300s", "9223372036854775807", "8761h"] {
            let (status, _, errors) = try await runToEnd(binary, ["token", "--ttl", ttl] + credentials)
            #expect(status == 1, "--ttl \(ttl): \(errors)")
            #expect(errors.contains("invalid --ttl \"\(ttl)\""), "--ttl \(ttl): \(errors)")
        }
        let (status, output, _) = try await runToEnd(binary, ["token", "--ttl", "8760h"] + credentials)
        #expect(status == 0)
        let token = try #require(JSON.parse(output)?["authToken"]?.stringValue)
        var tokens = HeraldConfiguration.Tokens()
        tokens.secret = TestServer.secret
        let expiresAt = try await TokenVerifier(configuration: tokens).verify(token).get().expiresAt
        #expect(abs(expiresAt - Int(Date().timeIntervalSince1970) - 365 * 86_400) < 60)
    }

    /// `CreateTestJwt` with `ttlSeconds` of 9223372036854775807 overflowed `exp` (a trap); now any
    /// `ttlSeconds` that is not a whole number from 1 to a year is an error naming the range.
    @Test func theTestTokenFunctionRefusesAbsurdLifetimes() async throws {
        let handler = TestTokenHandler(issuer: TokenIssuer(secret: TestServer.secret))
        let refusal = LambdaError("ttlSeconds must be a whole number of seconds from 1 to 31536000 (365 days)")
        for ttl: JSONValue in [.int(Int.max), .int(31_536_001), .int(0), .int(-5), .double(1e300), .double(1.5), "3600", .null] {
            await #expect(throws: refusal, "\(ttl)") { _ = try await handler.handle(["ttlSeconds": ttl]) }
        }
        let answer = try await handler.handle(["ttlSeconds": .int(31_536_000)])
        #expect(answer["authToken"]?.stringValue?.isEmpty == false)
    }
}
