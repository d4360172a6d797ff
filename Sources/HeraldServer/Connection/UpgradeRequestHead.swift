/// The head of a connection's first request, read straight from its bytes when it is a plain
/// WebSocket upgrade: `GET <origin-form target> HTTP/1.1`, well-formed header lines, `Upgrade`
/// naming `websocket`, `Connection` naming `upgrade`, one `Sec-WebSocket-Key`, `Sec-WebSocket-Version: 13`,
/// at most one `Host`, and no body. Anything else — another method or version, an odd byte, a
/// folded line, a body, a missing or repeated key — is nil, and NIO's HTTP parser and upgrade
/// handler take the request as they always did (`ConnectHandshake`), so their answers stay theirs.
struct UpgradeRequestHead: Sendable {
    /// The request target as sent (`/path?query`).
    let target: String
    /// Header lines in order: lowercased name, value without surrounding whitespace.
    let headers: [(name: String, value: String)]
    let webSocketKey: String

    /// The path, before `?`.
    var path: Substring { target.prefix { $0 != "?" } }

    /// The values of header `name` (lowercase), joined with `, ` as HTTP allows; nil when absent.
    func header(_ name: String) -> String? {
        var joined: String?
        for header in headers where header.name == name {
            joined = joined.map { $0 + ", " + header.value } ?? header.value
        }
        return joined
    }

    /// The first query parameter `name`, percent-decoded (kept as sent when that fails), as
    /// Hummingbird reads one: `""` for a key without `=` value.
    func queryParameter(_ name: String) -> String? {
        let bytes = target.utf8
        guard let question = bytes.firstIndex(of: UInt8(ascii: "?")) else { return nil }
        var start = bytes.index(after: question)
        while true {
            let end = bytes[start...].firstIndex(of: UInt8(ascii: "&")) ?? bytes.endIndex
            let pair = bytes[start..<end]
            let equals = pair.firstIndex(of: UInt8(ascii: "="))
            if pair[..<(equals ?? pair.endIndex)].elementsEqual(name.utf8) {
                guard let equals else { return "" }
                let value = pair[pair.index(after: equals)...]
                return Self.percentDecoded(value) ?? String(Substring(value))
            }
            guard end < bytes.endIndex else { return nil }
            start = bytes.index(after: end)
        }
    }

    /// Parses `bytes`: the request line and header lines, each ending in CRLF, without the empty
    /// line that ends the head.
    static func parse(_ bytes: UnsafeRawBufferPointer) -> UpgradeRequestHead? {
        var lines = LineReader(bytes: bytes)
        guard let requestLine = lines.next(), let target = requestTarget(requestLine) else { return nil }
        var headers: [(name: String, value: String)] = []
        var upgrade = false
        var connectionUpgrade = false
        var keys: [String] = []
        var versions: [String] = []
        var hosts = 0
        while let line = lines.next() {
            guard let (name, value) = headerLine(line) else { return nil }
            switch name {
            case "upgrade": upgrade = upgrade || lists(value, "websocket")
            case "connection": connectionUpgrade = connectionUpgrade || lists(value, "upgrade")
            case "sec-websocket-key": keys.append(value)
            case "sec-websocket-version": versions.append(value)
            case "host": hosts += 1
            case "content-length", "transfer-encoding": return nil
            default: break
            }
            headers.append((name, value))
        }
        guard !lines.failed, upgrade, connectionUpgrade, hosts <= 1, keys.count == 1, !keys[0].isEmpty, !keys[0].contains(","),
            versions == ["13"]
        else { return nil }
        return UpgradeRequestHead(target: target, headers: headers, webSocketKey: keys[0])
    }

    /// `GET /… HTTP/1.1`: the target, or nil.
    private static func requestTarget(_ line: UnsafeRawBufferPointer) -> String? {
        let prefix = Array("GET /".utf8)
        let suffix = Array(" HTTP/1.1".utf8)
        guard line.count > prefix.count + suffix.count, line.prefix(prefix.count).elementsEqual(prefix),
            line.suffix(suffix.count).elementsEqual(suffix)
        else { return nil }
        let target = UnsafeRawBufferPointer(rebasing: line[(prefix.count - 1)..<(line.count - suffix.count)])
        // Visible ASCII only: no space, no control byte, nothing a strict parser would refuse.
        guard target.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return nil }
        return String(decoding: target, as: UTF8.self)
    }

    /// `name: value` with a token name; the value without surrounding spaces and tabs, free of
    /// control bytes. Nil for anything else (a folded line, a space before the colon…).
    private static func headerLine(_ line: UnsafeRawBufferPointer) -> (String, String)? {
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > 0 else { return nil }
        var name = [UInt8]()
        name.reserveCapacity(colon)
        for byte in line[..<colon] {
            guard isTokenByte(byte) else { return nil }
            name.append(byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte)
        }
        var start = colon + 1
        var end = line.count
        while start < end, line[start] == UInt8(ascii: " ") || line[start] == UInt8(ascii: "\t") { start += 1 }
        while end > start, line[end - 1] == UInt8(ascii: " ") || line[end - 1] == UInt8(ascii: "\t") { end -= 1 }
        let value = UnsafeRawBufferPointer(rebasing: line[start..<end])
        guard value.allSatisfy({ $0 >= 0x20 && $0 != 0x7F || $0 == UInt8(ascii: "\t") }) else { return nil }
        return (String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self))
    }

    /// RFC 9110 `tchar`.
    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        default: "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }

    /// Whether the comma-separated `value` has a member equal to `token` (lowercase), ignoring
    /// ASCII case and surrounding spaces and tabs.
    private static func lists(_ value: String, _ token: StaticString) -> Bool {
        let wanted = UnsafeRawBufferPointer(start: token.utf8Start, count: token.utf8CodeUnitCount)
        var member: [UInt8] = []
        for byte in value.utf8 + [UInt8(ascii: ",")] {
            switch byte {
            case UInt8(ascii: ","):
                while member.last == UInt8(ascii: " ") || member.last == UInt8(ascii: "\t") { member.removeLast() }
                if member.elementsEqual(wanted) { return true }
                member.removeAll(keepingCapacity: true)
            case UInt8(ascii: " "),
                UInt8(ascii: "\t") where member.isEmpty:
                continue
            case UInt8(ascii: "A")...UInt8(ascii: "Z"):
                member.append(byte + 32)
            default:
                member.append(byte)
            }
        }
        return false
    }

    /// `%XX` decoded; nil when an escape is malformed.
    private static func percentDecoded(_ text: Substring.UTF8View) -> String? {
        guard text.contains(UInt8(ascii: "%")) else { return String(Substring(text)) }
        var bytes: [UInt8] = []
        var iterator = text.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return nil }
            bytes.append(high << 4 | low)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// The CRLF-terminated lines of a request head; a bare CR or LF sets `failed`.
private struct LineReader {
    let bytes: UnsafeRawBufferPointer
    var position = 0
    var failed = false

    mutating func next() -> UnsafeRawBufferPointer? {
        guard !failed, position < bytes.count else { return nil }
        var index = position
        while index < bytes.count, bytes[index] != UInt8(ascii: "\r"), bytes[index] != UInt8(ascii: "\n") { index += 1 }
        guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\r"), bytes[index + 1] == UInt8(ascii: "\n") else {
            failed = true
            return nil
        }
        let line = UnsafeRawBufferPointer(rebasing: bytes[position..<index])
        position = index + 2
        return line
    }
}
