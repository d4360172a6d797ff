import HeraldCore
import NIOCore
import Testing

/// The session half every shape runs: a message in, the actions (and the exact frames) out.
@Suite struct SessionStateMachineTests {
    private typealias Order = SessionStateMachine.SubscribeOrder
    private let entity = MachineFixtures.entity

    private func session(maxSubscriptions: Int = 2, allowedEntities: EntityPatterns? = nil, asksHook: Bool = false) -> SessionStateMachine {
        SessionStateMachine(userID: UserID("u")!, maxSubscriptions: maxSubscriptions, allowedEntities: allowedEntities, asksHook: asksHook)
    }

    private func receive(_ session: inout SessionStateMachine, _ text: String, now: UInt64 = 0) -> [SessionStateMachine.Action] {
        session.textReceived(Array(text.utf8), now: now)
    }

    @Test func aSubscribeIsOneOrderPerEntityAndRefusalsInPlace() {
        var session = session(maxSubscriptions: 3)
        _ = receive(&session, #"{"action":"subscribe","entityId":"z"}"#)
        #expect(
            receive(&session, #"{"action":"subscribe","entityIds":["a","b","c"],"since":4,"epoch":"e","requestId":1}"#) == [
                .subscribe(Order(entity: entity("a"), since: 4, epoch: "e", requestID: .int(1))),
                .subscribe(Order(entity: entity("b"), since: 4, epoch: "e", requestID: .int(1))),
                .write(
                    Push.error(
                        ProtocolError(.subscriptionLimit, "limit of 3 subscriptions reached; unsubscribe from something first", requestID: .int(1))
                    )
                ),
            ]
        )
        #expect(session.subscriptions == [entity("z"), entity("a"), entity("b")])
    }

    /// The connection has been receiving it live: acked again without `since`, so nothing is replayed.
    @Test func subscribingAgainWithSinceReplaysNothing() {
        var session = session()
        _ = receive(&session, #"{"action":"subscribe","entityId":"a"}"#)
        #expect(
            receive(&session, #"{"action":"subscribe","entityId":"a","since":0,"requestId":"r"}"#) == [
                .subscribe(Order(entity: entity("a"), requestID: "r"))
            ]
        )
        // A repeated id in one message: subscribed once, acked again.
        #expect(
            receive(&session, #"{"action":"subscribe","entityIds":["b","b"],"since":3}"#) == [
                .subscribe(Order(entity: entity("b"), since: 3)), .subscribe(Order(entity: entity("b"))),
            ]
        )
    }

    @Test func theAckComesBeforeTheMissedEvents() {
        let session = session()
        let missed = [WireFrame.text(ByteBuffer(string: "m5")), .text(ByteBuffer(string: "m6"))]
        let actions = session.subscribed(
            Order(entity: entity("a"), since: 4, requestID: .int(1)),
            Replay(frames: missed, recovered: true, epoch: "e")
        )
        #expect(
            MachineFixtures.written(actions) == [
                #"{"type":"subscribed","entityId":"a","recovered":true,"epoch":"e","requestId":1}"#, "m5", "m6",
            ]
        )
    }

    @Test func unsubscribeRemovesWhatWasSubscribedAndAcksEveryId() {
        var session = session()
        _ = receive(&session, #"{"action":"subscribe","entityId":"a"}"#)
        #expect(
            receive(&session, #"{"action":"unsubscribe","entityIds":["a","nope"],"requestId":2}"#) == [
                .unsubscribe([entity("a")]),
                .write(Push.unsubscribed(entity("a"), requestID: .int(2))), .write(Push.unsubscribed(entity("nope"), requestID: .int(2))),
            ]
        )
        #expect(session.subscriptions.isEmpty)
        #expect(receive(&session, #"{"action":"unsubscribe","entityId":"a"}"#) == [.write(Push.unsubscribed(entity("a"), requestID: nil))])
    }

    @Test func aRefreshWaitsForItsTokenAndKeepsTheUser() {
        var session = session(allowedEntities: EntityPatterns(["a"]))
        #expect(receive(&session, #"{"action":"refresh","token":"t1","requestId":3}"#) == [.verifyToken("t1")])
        #expect(session.isWaiting)
        #expect(
            session.tokenVerified(userID: UserID("v")!, expiresAt: 9, allowedEntities: nil) == [
                .write(Push.error(ProtocolError(.forbidden, "the new token belongs to another user", requestID: .int(3))))
            ]
        )
        #expect(!session.isWaiting)
        _ = receive(&session, #"{"action":"refresh","token":"t2"}"#)
        #expect(
            session.tokenVerified(userID: UserID("u")!, expiresAt: 99, allowedEntities: EntityPatterns(["b"])) == [
                .tokenReplaced(expiresAt: 99, allowedEntities: EntityPatterns(["b"])), .write(Push.refreshed(expiresAt: 99, requestID: nil)),
            ]
        )
        #expect(session.rules.allowedEntities == EntityPatterns(["b"]))
        _ = receive(&session, #"{"action":"refresh","token":"t3","requestId":4}"#)
        #expect(
            session.tokenRefused(.tokenExpired, "the token has expired") == [
                .write(Push.error(ProtocolError(.tokenExpired, "the token has expired", requestID: .int(4))))
            ]
        )
        // An answer nobody asked for is ignored.
        #expect(session.tokenRefused(.tokenInvalid, "late").isEmpty)
    }

    /// A refresh whose claim no longer allows a subscription ends it, told before the reply.
    @Test func aNarrowerClaimEndsSubscriptionsBeforeTheRefreshedReply() {
        var session = session(maxSubscriptions: 5, allowedEntities: EntityPatterns(["a", "b"]))
        _ = receive(&session, #"{"action":"subscribe","entityIds":["a","b"]}"#)
        _ = receive(&session, #"{"action":"refresh","token":"t","requestId":5}"#)
        #expect(
            session.tokenVerified(userID: UserID("u")!, expiresAt: 9, allowedEntities: EntityPatterns(["a"])) == [
                .unsubscribe([entity("b")]), .write(Push.unsubscribed(entity("b"), reason: .forbidden, requestID: nil)),
                .tokenReplaced(expiresAt: 9, allowedEntities: EntityPatterns(["a"])), .write(Push.refreshed(expiresAt: 9, requestID: .int(5))),
            ]
        )
        #expect(session.subscriptions == [entity("a")])
    }

    @Test func entitiesOnlyTheHookCanAllowAreAskedAboutThenAnsweredInOrder() {
        var session = session(maxSubscriptions: 10, allowedEntities: EntityPatterns(["order-*"]), asksHook: true)
        #expect(
            receive(&session, #"{"action":"subscribe","entityIds":["order-1","x","y","x"],"requestId":7}"#) == [
                .askHook([entity("x"), entity("y")])
            ]
        )
        #expect(session.isWaiting)
        // y has no answer: refused.
        #expect(
            session.hookAnswered([entity("x"): true], now: 0) == [
                .subscribe(Order(entity: entity("order-1"), requestID: .int(7))), .subscribe(Order(entity: entity("x"), requestID: .int(7))),
                .write(Push.error(ProtocolError(.forbidden, "this token does not allow subscribing to y", requestID: .int(7)))),
                .subscribe(Order(entity: entity("x"), requestID: .int(7))),
            ]
        )
        // Remembered: no question this time.
        #expect(
            receive(&session, #"{"action":"subscribe","entityId":"y"}"#, now: 1) == [
                .write(Push.error(ProtocolError(.forbidden, "this token does not allow subscribing to y")))
            ]
        )
    }

    @Test func badMessagesGetTheirErrorFrames() {
        var session = session(maxSubscriptions: 2)
        #expect(
            MachineFixtures.written(receive(&session, "nope")) == [
                #"{"type":"error","code":"invalid_json","message":"a message must be one JSON object"}"#
            ]
        )
        #expect(
            MachineFixtures.written(receive(&session, #"{"action":"subscribe","entityIds":["a","b","c"],"requestId":1}"#)) == [
                #"{"type":"error","code":"invalid_message","message":"entityIds lists 3 ids; at most 2 per message (the subscription limit)","requestId":1}"#
            ]
        )
        #expect(receive(&session, #"{"action":"ping","requestId":9}"#) == [.write(Push.pong(requestID: .int(9)))])
        #expect(
            MachineFixtures.written(session.binaryReceived()) == [
                #"{"type":"error","code":"unsupported_frame","message":"binary frames are not supported; send JSON text frames"}"#
            ]
        )
        #expect(session.subscriptions.isEmpty)
    }

    /// A shape that keeps subscriptions between messages (the AWS table) starts the session from them.
    @Test func aSessionLoadedWithItsSubscriptionsCountsThem() {
        var session = SessionStateMachine(userID: UserID("u")!, maxSubscriptions: 2, subscriptions: [entity("a"), entity("b")])
        #expect(
            receive(&session, #"{"action":"subscribe","entityIds":["a","c"]}"#) == [
                .subscribe(Order(entity: entity("a"))),
                .write(Push.error(ProtocolError(.subscriptionLimit, "limit of 2 subscriptions reached; unsubscribe from something first"))),
            ]
        )
    }
}
