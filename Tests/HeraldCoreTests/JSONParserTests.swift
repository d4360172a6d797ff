import HeraldCore
import Testing

@Suite struct JSONParserTests {
    @Test func valuesOfEveryKind() {
        let parsed = JSON.parse(#" {"a": [1, -2, 3.5, 1e2, -0, true, false, null], "b": {"c": "d"}, "e": "" } "#)
        #expect(
            parsed
                == .object([
                    "a": .array([.int(1), .int(-2), .double(3.5), .int(100), .int(0), .bool(true), .bool(false), .null]),
                    "b": .object(["c": .string("d")]),
                    "e": .string(""),
                ])
        )
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

    /// Numbers at and past the edges: beyond a double's range they are refused (the document is
    /// not accepted), below it they underflow to 0, and whatever is accepted survives encoding.
    @Test func extremeNumbersAreRefusedOrRoundTrip() {
        for refused in ["1e400", "-1e400", "1E+309", String(repeating: "9", count: 400), "[1, 2e999]", #"{"data":-1e99999}"#] {
            #expect(JSON.parse(refused) == nil, "\(refused.prefix(40))")
        }
        #expect(JSON.parse("1e-400") == .int(0))
        #expect(JSON.parse("-0.0") == .int(0))
        #expect(JSON.parse("-9223372036854775808") == .int(.min))
        #expect(JSON.parse("9223372036854775808") == .double(9_223_372_036_854_775_808))
        #expect(JSON.parse("0." + String(repeating: "0", count: 30_000) + "1") == .int(0))
        let accepted = [
            "1e308", "-1.7976931348623157e308", "5e-324", "0.1", "123456789012345678901234567890", "1.5", "-2.25e-7",
            "9007199254740993", "-0", String(repeating: "1", count: 300),
        ]
        for text in accepted {
            let value = JSON.parse(text)
            #expect(value != nil, "\(text.prefix(40))")
            #expect(value.flatMap { JSON.parse(JSON.encode($0)) } == value, "\(text.prefix(40))")
        }
    }
}
