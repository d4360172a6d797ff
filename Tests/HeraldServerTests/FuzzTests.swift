import Foundation
import HeraldClient
import HeraldCore
import HeraldServer
import NIOCore
import NIOPosix
import Testing

/// Thousands of seeded random tokens, upgrade headers, raw frames and JSON messages against one
/// live server: it must answer each with the error the spec names (never a crash, never a hang),
/// and serve a fresh client correctly afterwards. A failure prints the seed; rerun with it.
@Suite struct FuzzTests {
    static let seed: UInt64 = 0x4845_5241_4C44

    @Test func randomInputNeverBreaksTheServer() async throws {
        let server = try await TestServer.start {
            $0.limits.maxMessagesPerSecond = 0  // the flood is the point here
            $0.limits.maxSubscriptions = 1_000
        }
        var random = SplitMix64(seed: Self.seed)
        let token = try await server.token()

        // 1. Tokens: mutations of a valid one, and noise. Each gets 401 (or 101 if a mutation left it valid).
        for index in 0..<600 {
            let candidate = index.isMultiple(of: 3) ? random.noise(length: Int.random(in: 0...300, using: &random)) : random.mutate(token)
            let query = "?access_token=" + candidate.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            let status = try await rawUpgrade(server.port, head: Self.upgradeRequest(query: query))
            #expect(["401", "101", "400"].contains(status), "seed \(Self.seed), token \(candidate): \(status)")
        }

        // 2. Headers: random subprotocols, bearer values, keys, versions and paths.
        for _ in 0..<300 {
            let lines = [
                "GET /\(random.pick(["", "x", "?token=", "?access_token=\(token)", "%ZZ", "?a=b&token=\(token)"])) HTTP/1.1",
                "Host: 127.0.0.1",
                "Upgrade: \(random.pick(["websocket", "WebSocket", "h2c", ""]))",
                "Connection: \(random.pick(["Upgrade", "keep-alive, Upgrade", "close"]))",
                "Sec-WebSocket-Key: \(random.pick(["dGhlIHNhbXBsZSBub25jZQ==", "", "short", random.noise(length: 24)]))",
                "Sec-WebSocket-Version: \(random.pick(["13", "8", "", "abc"]))",
                "Sec-WebSocket-Protocol: \(random.pick(["websocket, \(token)", "chat, \(token)", ",,,", random.noise(length: 40)]))",
                "Authorization: \(random.pick(["Bearer \(token)", "Bearer", "Basic eA==", random.noise(length: 60)]))",
            ]
            let status = try await rawUpgrade(server.port, head: lines.joined(separator: "\r\n"))
            #expect(["101", "400", "401", "404"].contains(status), "seed \(Self.seed): \(lines) → \(status)")
        }

        // 3. Raw frames after a good upgrade: random opcodes, lengths, masks and bytes.
        for _ in 0..<300 {
            var bytes: [UInt8] = []
            for _ in 0..<Int.random(in: 1...4, using: &random) { bytes += random.frame() }
            try await RawSocket.send(
                port: server.port,
                bytes: Array((Self.upgradeRequest(query: "?access_token=\(token)") + "\r\n\r\n").utf8) + bytes
            )
        }

        // 4. JSON and not-quite-JSON messages on one connection: every one is answered, none closes it.
        let socket = try await server.connect()
        for index in 0..<2_000 {
            if index.isMultiple(of: 97) { socket.sendBinary(random.bytes(Int.random(in: 0...64, using: &random))) }
            socket.send(index.isMultiple(of: 5) ? random.noise(length: Int.random(in: 0...80, using: &random)) : random.json(depth: 3).text)
        }
        socket.send(#"{"action":"ping","requestId":"end"}"#)
        var frames = 0
        while true {
            let reply = try await socket.json(timeout: .seconds(30))
            frames += 1
            if reply == .object(["type": "pong", "requestId": "end"]) { break }
            #expect(reply["type"] != nil, "seed \(Self.seed): \(reply)")
        }
        #expect(frames > 2_000)

        // Afterwards: a fresh client is served correctly, and nothing leaked.
        socket.close()
        try await waitUntil("every fuzzing connection is gone") { server.application.hub.connections == 0 }
        let fresh = try await server.subscriber(to: ["after-fuzz"])
        _ = try await server.publishEntity("after-fuzz", message: "still fine")
        let push = try await fresh.json()
        #expect(push["message"] == "still fine" && push["seq"] == .int(1))
        try await server.stop()
    }

    /// Seeded random numbers — huge, negative, fractional, exponent forms, long digit strings,
    /// strings that look like numbers — in signed tokens' `exp`/`nbf`/`iat`, in `since` and
    /// `requestId`, and in published `data`: each answered exactly as the protocol says.
    @Test func randomNumbersAreAnsweredAsTheProtocolSays() async throws {
        let server = try await TestServer.start { $0.limits.maxMessagesPerSecond = 0 }
        var random = SplitMix64(seed: Self.seed ^ 0x4E55_4D42)
        let now = Date().timeIntervalSince1970
        let socket = try await server.connect()

        // 1. Claims: the connect's status and reason, and the same token as a refresh.
        for index in 0..<200 {
            var claims = [#""data":{"userId":"myuserid"}"#]
            for claim in ["exp", "nbf", "iat"] {
                let present = claim == "exp" ? !index.isMultiple(of: 17) : Bool.random(using: &random)
                if present { claims.append(#""\#(claim)":\#(random.numericClaim(now: now))"#) }
            }
            let text = "{" + claims.shuffled(using: &random).joined(separator: ",") + "}"
            let expected = Self.expectedReason(claims: text, now: now)
            let (status, reason) = try await Self.upgradeReason(server.port, token: TestServer.signed(claims: text))
            if let expected {
                #expect(status == "401" && reason == expected, "seed \(Self.seed): \(text) → \(status) \(reason ?? "")")
            } else {
                #expect(status == "101", "seed \(Self.seed): \(text) → \(status) \(reason ?? "")")
            }
            socket.send(#"{"action":"refresh","token":"\#(TestServer.signed(claims: text))","requestId":\#(index)}"#)
            let reply = try await socket.json(timeout: .seconds(20))
            let answer = reply["type"] == "refreshed" ? "refreshed" : reply["code"]?.stringValue
            #expect(
                answer == (expected == nil ? "refreshed" : expected == "token_expired" ? "token_expired" : "token_invalid"),
                "seed \(Self.seed): \(text) → \(reply.text)"
            )
        }

        // 2. since and requestId: an integer since from 0 to Int.max subscribes; any other number is
        //    invalid_message; a number past a double's range makes the frame invalid_json. Any number
        //    is a requestId and is echoed as it parses.
        for _ in 0..<200 {
            let since = random.numberText()
            let requestID = random.numberText()
            socket.send(#"{"action":"subscribe","entityId":"numbers","since":\#(since),"requestId":\#(requestID)}"#)
            let reply = try await socket.json(timeout: .seconds(20))
            switch (JSON.parse(since), JSON.parse(requestID)) {
            case (nil, _), (_, nil):
                #expect(reply["code"] == "invalid_json" && reply["requestId"] == nil, "seed \(Self.seed): \(since) \(requestID) → \(reply.text)")
            case (.int(let value)?, let echoed?) where value >= 0:
                #expect(reply["type"] == "subscribed" && reply["requestId"] == echoed, "seed \(Self.seed): \(since) → \(reply.text)")
            case (_, let echoed?):
                #expect(reply["code"] == "invalid_message" && reply["requestId"] == echoed, "seed \(Self.seed): \(since) → \(reply.text)")
            }
        }

        // 3. data: a number a double holds is delivered as the same value; past that the publish is 400.
        socket.send(#"{"action":"subscribe","entityId":"numbers"}"#)
        #expect(try await socket.json(timeout: .seconds(20))["type"] == "subscribed")
        var published = 0
        for _ in 0..<150 {
            let number = random.numberText()
            let answer = try await server.publish("/entities/numbers/updates", #"{"message":"n","data":{"n":\#(number),"list":[\#(number)]}}"#)
            guard let value = JSON.parse(number) else {
                #expect(answer.status == 400, "seed \(Self.seed): \(number) → \(answer.status)")
                continue
            }
            #expect(answer.status == 202, "seed \(Self.seed): \(number) → \(answer.status)")
            published += 1
            let push = try await socket.json(timeout: .seconds(20))
            #expect(
                push["seq"] == .int(published) && push["data"] == .object(["n": value, "list": [value]]),
                "seed \(Self.seed): \(number) → \(push.text)"
            )
        }
        socket.send(#"{"action":"ping","requestId":"end"}"#)
        #expect(try await socket.json(timeout: .seconds(20)) == .object(["type": "pong", "requestId": "end"]))
        try await server.stop()
    }

    /// Upgrades with `token`: the status code, and the refusal's `reason`.
    private static func upgradeReason(_ port: Int, token: String) async throws -> (String, String?) {
        let request = upgradeRequest(query: "?access_token=\(token)") + "\r\n\r\n"
        let response = try await RawHTTP.received(port: port, request: request, timeout: .seconds(20)) {
            $0.hasPrefix("HTTP/1.1 101") ? $0.contains("\r\n\r\n") : $0.hasSuffix("}")
        }
        let status = String(response.split(separator: " ").dropFirst().first ?? "")
        let body = response.range(of: "\r\n\r\n").map { String(response[$0.upperBound...]) } ?? ""
        return (status, JSON.parse(body)?["reason"]?.stringValue)
    }

    /// What the verifier must answer for these claims at `now` (nil: accepted), from the rules of
    /// docs/PROTOCOL.md: `exp` first, then `nbf` and `iat`; a NumericDate is a number from 0 to 253402300799.
    static func expectedReason(claims text: String, now: Double) -> String? {
        guard let claims = JSON.parse(text) else { return "token_invalid" }
        func date(_ claim: String) -> Double?? {
            guard let value = claims[claim] else { return .some(nil) }
            let seconds: Double
            switch value {
            case .int(let number): seconds = Double(number)
            case .double(let number): seconds = number
            default: return nil
            }
            return (0...253_402_300_799).contains(seconds) ? .some(seconds) : nil
        }
        guard case .some(let exp?) = date("exp") else { return "token_invalid" }
        if now > exp + 30 { return "token_expired" }
        for claim in ["nbf", "iat"] {
            guard case .some(let time) = date(claim) else { return "token_invalid" }
            if let time, time > now + 30 { return "token_not_yet_valid" }
        }
        return nil
    }

    /// A valid upgrade request head (without its closing blank line) to `/` + `query`.
    static func upgradeRequest(query: String) -> String {
        [
            "GET /\(query) HTTP/1.1", "Host: 127.0.0.1", "Upgrade: websocket", "Connection: Upgrade",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13",
        ].joined(separator: "\r\n")
    }

    /// Sends an upgrade request head and returns the response's status code ("timeout" after 5 s).
    private func rawUpgrade(_ port: Int, head: String) async throws -> String {
        try await withThrowingTaskGroup(of: String.self) { group in
            group.addTask {
                let response = try await RawHTTP.exchange(port: port, request: head + "\r\n\r\n")
                return String(response.split(separator: " ").dropFirst().first ?? "")
            }
            group.addTask {
                try await Task.sleep(for: .seconds(5))
                return "timeout"
            }
            let first = try await group.next()!
            group.cancelAll()
            return first
        }
    }
}

/// A TCP client that writes bytes and hangs up.
enum RawSocket {
    static func send(port: Int, bytes: [UInt8]) async throws {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port).get()
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes)).get()
        try? await channel.close().get()
    }
}

/// A small seeded generator (SplitMix64), so that a failing run can be repeated exactly.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func pick<T>(_ choices: [T]) -> T { choices.randomElement(using: &self)! }

    mutating func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8.random(in: 0...255, using: &self) } }

    /// Printable and unprintable characters, quotes, backslashes and multi-byte UTF-8.
    mutating func noise(length: Int) -> String {
        let alphabet = Array("abcXYZ019.-_=+/\"\\{}[]:, \t\n\u{0}\u{7F}é漢🙂")
        return String((0..<length).map { _ in pick(alphabet) })
    }

    /// A JSON number's text of any form: small and huge integers, long digit strings, fractions,
    /// exponents far past a double's range, negative zero.
    mutating func numberText() -> String {
        let sign = Bool.random(using: &self) ? "-" : ""
        switch Int.random(in: 0...7, using: &self) {
        case 0:
            return pick([
                "0", "-0", "-0.0", "9223372036854775807", "9223372036854775808", "-9223372036854775808", "1e19", "1e300", "1e400", "-1e400", "5e-324",
                "1e-400",
            ])
        case 1: return sign + digits(in: 1...18)
        case 2: return sign + digits(in: 19...400)
        case 3:
            let whole = digits(in: 1...6)
            return sign + whole + "." + digits(in: 1...30)
        case 4:
            let mantissa = digits(in: 1...3)
            return sign + mantissa + pick(["e", "E", "e+", "e-"]) + "\(Int.random(in: 0...500, using: &self))"
        case 5: return "\(Int.random(in: 0...1_000, using: &self))"
        case 6:
            let zeros = String(repeating: "0", count: Int.random(in: 0...400, using: &self))
            return sign + "0." + zeros + digits(in: 3...3)
        default: return "\(Int.random(in: Int.min...Int.max, using: &self))"
        }
    }

    /// A run of decimal digits, as long as `lengths` allows, not starting with 0.
    mutating func digits(in lengths: ClosedRange<Int>) -> String {
        let count = Int.random(in: lengths, using: &self)
        var text = "\(Int.random(in: 1...9, using: &self))"
        for _ in 1..<max(count, 1) { text += "\(Int.random(in: 0...9, using: &self))" }
        return text
    }

    /// A value for a token's `exp`, `nbf` or `iat`: plausible times a day or more away from `now`
    /// (so the answer never depends on the clock), the edges of the range, and anything else.
    mutating func numericClaim(now: Double) -> String {
        let days = Double(Int.random(in: 1...3_000, using: &self)) * 86_400
        switch Int.random(in: 0...5, using: &self) {
        case 0: return "\(Int(now + days))"
        case 1: return "\(Int(now - days))"
        case 2: return "\(now + pick([-1, 1]) * days + 0.25)"
        case 3: return pick(["253402300799", "253402300800", "0", "-0", "-1", "1.5", "1.8e9", "2E10", "\"1800000000\"", "\"NaN\"", "null", "true"])
        case 4: return String(format: "%.9e", now + pick([-1, 1]) * days)
        default: return numberText()
        }
    }

    /// A copy of `token` with a few characters replaced, removed or duplicated.
    mutating func mutate(_ token: String) -> String {
        var characters = Array(token)
        for _ in 0..<Int.random(in: 1...4, using: &self) where !characters.isEmpty {
            let index = Int.random(in: 0..<characters.count, using: &self)
            switch Int.random(in: 0...2, using: &self) {
            case 0: characters[index] = pick(Array("AQgw_-.x0"))
            case 1: characters.remove(at: index)
            default: characters.insert(characters[index], at: index)
            }
        }
        return String(characters)
    }

    /// One client frame: any opcode, FIN or not, masked or not, with a length field that may lie.
    mutating func frame() -> [UInt8] {
        let payload = bytes(Int.random(in: 0...200, using: &self))
        var frame: [UInt8] = [UInt8.random(in: 0...255, using: &self)]
        let masked = Bool.random(using: &self)
        let claimed = Bool.random(using: &self) ? payload.count : Int.random(in: 0...70_000, using: &self)
        switch claimed {
        case 0...125: frame.append(UInt8(claimed) | (masked ? 0x80 : 0))
        case 126...0xFFFF: frame += [126 | (masked ? 0x80 : 0), UInt8(claimed >> 8), UInt8(claimed & 0xFF)]
        default: frame += [127 | (masked ? 0x80 : 0)] + (0..<8).reversed().map { UInt8((claimed >> ($0 * 8)) & 0xFF) }
        }
        if masked { frame += bytes(4) }
        return frame + payload
    }

    /// A random JSON value, biased towards the protocol's own field names and actions.
    mutating func json(depth: Int) -> JSONValue {
        let keys = ["action", "entityId", "entityIds", "since", "epoch", "requestId", "token", "data", "x"]
        switch Int.random(in: 0...(depth > 0 ? 7 : 5), using: &self) {
        case 0: return .string(pick(["subscribe", "unsubscribe", "ping", "refresh", "", "order-7", noise(length: 10)]))
        case 1: return .int(pick([0, -1, 1, 40, Int.max, Int.min]))
        case 2: return .double(pick([1.5, -0.0, 1e300]))
        case 3: return .bool(Bool.random(using: &self))
        case 4: return .null
        case 5: return .string(String(repeating: "e", count: pick([1, 256, 257, 5_000])))
        case 6: return .array((0..<Int.random(in: 0...4, using: &self)).map { _ in json(depth: depth - 1) })
        default:
            var object: [String: JSONValue] = [:]
            for _ in 0..<Int.random(in: 0...5, using: &self) { object[pick(keys)] = json(depth: depth - 1) }
            if Bool.random(using: &self) { object["action"] = .string(pick(["subscribe", "unsubscribe", "ping", "refresh"])) }
            return .object(object)
        }
    }
}

extension JSONValue {
    /// The value as JSON text.
    var text: String { String(decoding: JSON.encode(self), as: UTF8.self) }
}
