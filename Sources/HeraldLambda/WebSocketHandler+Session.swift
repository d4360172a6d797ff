import Foundation
import HeraldCore
import HeraldTokens
import NIOCore

/// One client message on the AWS shape: the connection's state loaded from the table, the
/// message handled by Core's `SessionStateMachine` — the standalone server's rules, the same
/// frames — and its actions run here: subscriptions written to the table, replays read from
/// it, `refresh` tokens verified, frames posted through the Management API.
///
/// What the server's `ConnectionStateMachine` adds around the session has no counterpart here
/// (deploy/aws/README.md): no per-connection timers (`4001`, `4002`, pings), no rate limit or
/// closing handshake of Herald's own (API Gateway's), and no authorisation hook.
extension WebSocketHandler {
    /// One client message, answered in the order of PROTOCOL.md §2.
    func receive(_ event: JSONValue, from id: String, replyingThrough api: ManagementAPI) async throws {
        // A message from a connection the table no longer knows ($disconnect ran): nobody to answer.
        guard let stored = try await table.connection(id) else { return }
        var session = SessionStateMachine(
            userID: stored.userID,
            maxSubscriptions: settings.maxSubscriptions,
            // With claim authorisation a connection recorded without the claim allows nothing (fail closed).
            allowedEntities: settings.entitiesClaim == nil ? nil : stored.allowedEntities ?? EntityPatterns([]),
            subscriptions: Set(stored.subscriptions)
        )
        let actions =
            event["isBase64Encoded"] == .bool(true)
            ? session.binaryReceived() : session.textReceived(Array((event["body"]?.stringValue ?? "").utf8), now: 0)
        var run = SessionRun(id: id, handler: self, api: api)
        try await run.perform(actions, on: &session)
    }
}

/// The actions of one message, run in order against the table and the Management API.
private struct SessionRun {
    let id: String
    let handler: WebSocketHandler
    let api: ManagementAPI
    /// The deployment's epoch, read once per message.
    private var epoch: String?

    init(id: String, handler: WebSocketHandler, api: ManagementAPI) {
        self.id = id
        self.handler = handler
        self.api = api
    }

    mutating func perform(_ actions: [SessionStateMachine.Action], on session: inout SessionStateMachine) async throws {
        // Every entity to register, written at once before the first ack (so the fan-out finds
        // each before its ack is sent); one already subscribed is written again, which changes nothing.
        let orders = actions.compactMap { if case .subscribe(let order) = $0 { order.entity } else { nil } }
        if !orders.isEmpty { try await handler.table.subscribe(id, to: orders) }
        for action in actions {
            switch action {
            case .write(let frame):
                _ = try await api.post(Array(frame.payload.readableBytesView), to: id)
            case .subscribe(let order):
                let replay = try await replay(for: order)
                try await perform(session.subscribed(order, replay), on: &session)
            case .unsubscribe(let entities):
                try await handler.table.unsubscribe(id, from: entities)
            case .verifyToken(let token):
                switch handler.verifier.verify(token) {
                case .failure(let rejection):
                    try await perform(
                        session.tokenRefused(rejection.reason == .expired ? .tokenExpired : .tokenInvalid, rejection.message),
                        on: &session
                    )
                case .success(let identity):
                    let answer = session.tokenVerified(
                        userID: identity.userID,
                        expiresAt: identity.expiresAt,
                        allowedEntities: identity.allowedEntities
                    )
                    try await perform(answer, on: &session)
                }
            case .askHook:
                // No hook on AWS (`asksHook` is never set): nothing is allowed by one.
                try await perform(session.hookAnswered([:], now: 0), on: &session)
            case .tokenReplaced(let expiresAt, let allowedEntities):
                try await handler.table.tokenReplaced(id, expiresAt: expiresAt, allowedEntities: allowedEntities)
            }
        }
    }

    /// What the subscriber of `order` missed, judged by Core's resume rule from the kept events.
    private mutating func replay(for order: SessionStateMachine.SubscribeOrder) async throws -> Replay {
        let epoch = try await deploymentEpoch()
        guard let since = order.since else { return .none(epoch: epoch) }
        let latest = try await handler.table.latestSeq(of: order.entity)
        let kept = since < latest ? try await handler.table.kept(of: order.entity, after: since) : []
        return Replay.resume(
            since: since,
            epoch: order.epoch,
            streamEpoch: epoch,
            latestSeq: latest,
            kept: kept.map { (seq: $0.seq, frame: WireFrame.text(ByteBuffer(string: $0.push))) }
        )
    }

    private mutating func deploymentEpoch() async throws -> String {
        if let epoch { return epoch }
        let read = try await handler.table.epoch()
        epoch = read
        return read
    }
}
