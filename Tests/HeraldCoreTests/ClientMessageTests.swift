import HeraldCore
import Testing

@Suite struct ClientMessageTests {
    private func decode(_ text: String) -> Result<ClientMessage, ProtocolError> {
        ClientMessage.decode(Array(text.utf8))
    }

    private func errorCode(_ text: String) -> ErrorCode? {
        if case .failure(let error) = decode(text) { return error.code }
        return nil
    }

    @Test func subscribeWithOneEntity() throws {
        let message = try decode(#"{"action":"subscribe","entityId":"order-7"}"#).get()
        #expect(message == ClientMessage(action: .subscribe([EntityID("order-7")!], since: nil)))
    }

    @Test func subscribeWithSeveralEntitiesSinceAndRequestID() throws {
        let message = try decode(#"{"action":"subscribe","entityIds":["a","b"],"since":40,"requestId":7}"#).get()
        #expect(message.action == .subscribe([EntityID("a")!, EntityID("b")!], since: 40))
        #expect(message.requestID == .int(7))
    }

    @Test func unsubscribePingAndRefresh() throws {
        #expect(try decode(#"{"action":"unsubscribe","entityId":"a"}"#).get().action == .unsubscribe([EntityID("a")!]))
        #expect(try decode(#"{"action":"ping","requestId":"r1"}"#).get() == ClientMessage(action: .ping, requestID: "r1"))
        #expect(try decode(#"{"action":"refresh","token":"abc"}"#).get().action == .refresh(token: "abc"))
    }

    @Test func unknownFieldsAreIgnored() throws {
        #expect(try decode(#"{"action":"ping","extra":[1,2,3]}"#).get().action == .ping)
    }

    @Test(arguments: [
        ("not json", ErrorCode.invalidJSON),
        ("[1,2]", .invalidJSON),
        ("\"subscribe\"", .invalidJSON),
        (#"{"entityId":"a"}"#, .unknownAction),
        (#"{"action":5}"#, .unknownAction),
        (#"{"action":"dance"}"#, .unknownAction),
        (#"{"action":"subscribe","entityId":"a","since":"abc"}"#, .invalidMessage),
        (#"{"action":"subscribe","entityId":"a","since":-1}"#, .invalidMessage),
        (#"{"action":"subscribe","entityId":7}"#, .invalidMessage),
        (#"{"action":"subscribe","entityIds":"a"}"#, .invalidMessage),
        (#"{"action":"subscribe","entityId":"a","entityIds":["b"]}"#, .invalidMessage),
        (#"{"action":"refresh"}"#, .invalidMessage),
        (#"{"action":"subscribe"}"#, .invalidEntityID),
        (#"{"action":"subscribe","entityId":""}"#, .invalidEntityID),
        (#"{"action":"subscribe","entityIds":[]}"#, .invalidEntityID),
        (#"{"action":"subscribe","entityId":"a\u0007b"}"#, .invalidEntityID),
        (#"{"action":"subscribe","entityId":"a\u007fb"}"#, .invalidEntityID),
        (#"{"action":"unsubscribe","entityIds":["ok",""]}"#, .invalidEntityID),
    ])
    func malformedMessagesGetTheirErrorCode(text: String, code: ErrorCode) {
        #expect(errorCode(text) == code)
    }

    @Test func entityIDLengthLimitIsInclusive() {
        let longest = String(repeating: "é", count: 128)  // 256 UTF-8 bytes
        #expect(EntityID(longest) != nil)
        #expect(EntityID(longest + "x") == nil)
        #expect(errorCode(#"{"action":"subscribe","entityId":"\#(longest)x"}"#) == .invalidEntityID)
    }

    @Test func errorsEchoTheRequestID() {
        guard case .failure(let error) = decode(#"{"action":"nope","requestId":"abc"}"#) else {
            Issue.record("expected an error")
            return
        }
        #expect(error.requestID == "abc")
    }

    /// `since` is a non-negative integer in Int range (integral forms such as `1e2` count); larger,
    /// fractional or negative numbers are `invalid_message`. Any number is a `requestId`, echoed.
    @Test func numbersInSinceAndRequestID() throws {
        #expect(
            try decode(#"{"action":"subscribe","entityId":"a","since":9223372036854775807}"#).get().action
                == .subscribe([EntityID("a")!], since: .max)
        )
        #expect(try decode(#"{"action":"subscribe","entityId":"a","since":1e2}"#).get().action == .subscribe([EntityID("a")!], since: 100))
        #expect(try decode(#"{"action":"subscribe","entityId":"a","since":-0}"#).get().action == .subscribe([EntityID("a")!], since: 0))
        for since in ["9223372036854775808", "1e19", "1e300", "1.5", "-1", "-1e300", "\"40\"", "true", "[1]"] {
            #expect(errorCode(#"{"action":"subscribe","entityId":"a","since":\#(since)}"#) == .invalidMessage, "\(since)")
        }
        #expect(errorCode(#"{"action":"subscribe","entityId":"a","epoch":1e300}"#) == .invalidMessage)
        #expect(try decode(#"{"action":"ping","requestId":1e300}"#).get().requestID == .double(1e300))
        #expect(try decode(#"{"action":"ping","requestId":-0}"#).get().requestID == .int(0))
        #expect(try decode(#"{"action":"ping","requestId":123456789012345678901234567890}"#).get().requestID == .double(1.2345678901234568e29))
        #expect(errorCode(#"{"action":"ping","requestId":1e400}"#) == .invalidJSON)
    }
}
