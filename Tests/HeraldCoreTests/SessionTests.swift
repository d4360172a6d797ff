import HeraldCore
import NIOCore
import Testing

@Suite struct SessionTests {
    private func frames(_ mailbox: Mailbox) async -> [String] {
        mailbox.finish()
        guard case .frames(let frames) = await mailbox.next() else { return [] }
        return frames.map { String(buffer: $0) }
    }

    @Test func hundredAndFirstSubscriptionIsRefused() {
        var machine = SessionStateMachine(maxSubscriptions: 100)
        for index in 0..<100 { #expect(machine.subscribeRequested(EntityID("e\(index)")!) == .subscribe) }
        #expect(machine.subscribeRequested(EntityID("e5")!) == .acknowledge)
        #expect(machine.subscribeRequested(EntityID("e100")!) == .refuse(.subscriptionLimit))
        let first = machine.unsubscribeRequested(EntityID("e0")!)
        let second = machine.unsubscribeRequested(EntityID("e0")!)
        #expect(first && !second)
        #expect(machine.subscribeRequested(EntityID("e100")!) == .subscribe)
    }

    @Test func subscribeIsAcknowledgedPerEntityInOrder() async {
        let hub = Hub(shardCount: 2)
        let session = Session(userID: UserID("u")!, hub: hub, maxSubscriptions: 1, outboundBufferBytes: 1 << 16)
        #expect(session.receive(text: Array(#"{"action":"subscribe","entityIds":["a","b"],"requestId":1}"#.utf8)) == nil)
        #expect(await frames(session.mailbox) == [
            #"{"type":"subscribed","entityId":"a","recovered":true,"requestId":1}"#,
            #"{"type":"error","code":"subscription_limit","message":"limit of 1 subscriptions reached; unsubscribe from something first","requestId":1}"#,
        ])
        #expect(hub.subscriptions == 1)
        session.end()
        #expect(hub.subscriptions == 0)
        #expect(hub.connections == 0)
    }

    @Test func refreshIsHandedToTheTransport() {
        let session = Session(userID: UserID("u")!, hub: Hub(shardCount: 2), maxSubscriptions: 5, outboundBufferBytes: 1 << 16)
        let refresh = session.receive(text: Array(#"{"action":"refresh","token":"t","requestId":"r"}"#.utf8))
        #expect(refresh == Session.RefreshRequest(token: "t", requestID: "r"))
    }

    @Test func binaryFramesAndGarbageGetErrorFrames() async {
        let session = Session(userID: UserID("u")!, hub: Hub(shardCount: 2), maxSubscriptions: 5, outboundBufferBytes: 1 << 16)
        session.receiveBinary()
        _ = session.receive(text: Array("nope".utf8))
        _ = session.receive(text: Array(#"{"action":"ping"}"#.utf8))
        let codes = await frames(session.mailbox).map { JSON.parse($0)?["code"]?.stringValue ?? JSON.parse($0)?["type"]?.stringValue }
        #expect(codes == ["unsupported_frame", "invalid_json", "pong"])
    }
}
