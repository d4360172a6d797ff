import HeraldCore
import Testing

@Suite struct JSONParserTests {
    @Test func valuesOfEveryKind() {
        let parsed = JSON.parse(#" {"a": [1, -2, 3.5, 1e2, -0, true, false, null], "b": {"c": "d"}, "e": "" } "#)
        #expect(parsed == .object([
            "a": .array([.int(1), .int(-2), .double(3.5), .int(100), .int(0), .bool(true), .bool(false), .null]),
            "b": .object(["c": .string("d")]),
            "e": .string(""),
        ]))
    }

    @Test func stringEscapesAndUnicode() {
        #expect(JSON.parse(#""q\"b\\s\/n\nr\rt\tb\bf\f""#) == .string("q\"b\\s/n\nr\rt\tb\u{08}f\u{0C}"))
        #expect(JSON.parse(#""\u00e9\u20AC\ud83d\ude00 ünï""#) == .string("é€😀 ünï"))
    }

    @Test func hugeIntegersBecomeDoubles() {
        #expect(JSON.parse("9223372036854775807") == .int(Int.max))
        #expect(JSON.parse("100000000000000000000") == .double(1e20))
    }

    @Test(arguments: [
        "", " ", "{", "}", "[1,]", "[1 2]", "{\"a\"}", "{\"a\":1,}", "{a:1}", "01", "1.", ".5", "-", "1e", "+1",
        "tru", "nul", "\"unterminated", "\"tab\tinside\"", "\"bad \\x escape\"", "\"\\ud83d alone\"", "\"\\u12\"",
        "1 2", "{} x", "NaN", "1e999",
    ])
    func malformedDocumentsAreRejected(text: String) {
        #expect(JSON.parse(text) == nil)
    }

    @Test func invalidUTF8IsRejected() {
        #expect(JSON.parse([0x22, 0xFF, 0x22]) == nil)
    }

    @Test func nestingIsBounded() {
        #expect(JSON.parse(String(repeating: "[", count: 100) + String(repeating: "]", count: 100)) != nil)
        #expect(JSON.parse(String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)) == nil)
    }
}
