import Foundation
import HeraldCore
import PostgresNIO

/// The publish statements (`NumberEvents`, `AnnounceNotices`): events numbered and kept in one
/// statement, then announced in one sealed `NOTIFY` statement, in one transaction.
extension PostgresBroker {
    /// Publishes the events of several publish calls on `connection` in one transaction, all or
    /// none; returns each call's receipts in order.
    ///
    /// Each entity update's push is cut at its `seq` and joined around the number the database
    /// hands out, so the kept push and the announced one are the bytes every node sends. Commit
    /// order is announcement order: the entity's row in `herald_streams` is locked until the
    /// commit, so one entity's notices reach every node in `seq` order.
    func publish(_ calls: [[PreparedEvent]], on connection: PostgresConnection) async throws -> [[PublishReceipt]] {
        try await connection.withTransaction(logger: logger) { connection in
            var updates: [(entity: String, beforeSeq: String, afterSeq: String)] = []
            for call in calls {
                for case .entityUpdate(let entity, _, let beforeSeq, let afterSeq) in call { updates.append((entity.rawValue, beforeSeq, afterSeq)) }
            }
            var numbered = try await number(updates, on: connection).makeIterator()
            var receipts: [[PublishReceipt]] = []
            var notices: [Notice] = []
            for call in calls {
                var callReceipts: [PublishReceipt] = []
                for event in call {
                    switch event {
                    case .entityUpdate(let entity, let id, _, _):
                        guard let (seq, epoch, push) = numbered.next() else {
                            throw PostgresBrokerError(.unexpectedAnswer, "the publish statement returned too few seqs")
                        }
                        var notice = Notice.entityEvent(entity, seq: seq, epoch: epoch, push: push)
                        if !notice.fitsOneNotice { notice = .entityEvent(entity, seq: seq, epoch: epoch, push: nil) }
                        notices.append(notice)
                        callReceipts.append(PublishReceipt(eventID: id, seq: seq))
                    case .userNotification(let user, let id, let push):
                        notices.append(try await fitted(push, on: connection) { .userNotification(user, $0) })
                        callReceipts.append(PublishReceipt(eventID: id, seq: nil))
                    }
                }
                receipts.append(callReceipts)
            }
            try await notify(notices, on: connection)
            return receipts
        }
    }

    /// Numbers and keeps entity updates (`NumberEvents`), in order (one entity may come several
    /// times); returns each one's `seq`, its stream's epoch and its push.
    private func number(
        _ updates: [(entity: String, beforeSeq: String, afterSeq: String)],
        on connection: PostgresConnection
    ) async throws -> [(seq: Int, epoch: String, push: String)] {
        guard !updates.isEmpty else { return [] }
        let rows = try await connection.execute(
            NumberEvents(entities: updates.map(\.entity), beforeSeqs: updates.map(\.beforeSeq), afterSeqs: updates.map(\.afterSeq)),
            logger: logger
        )
        var numbered: [(seq: Int, epoch: String, push: String)] = []
        for try await (seq, epoch) in rows {
            let update = updates[numbered.count]
            numbered.append((seq, epoch, update.beforeSeq + String(seq) + update.afterSeq))
        }
        guard numbered.count == updates.count else {
            throw PostgresBrokerError(.unexpectedAnswer, "the publish statement numbered \(numbered.count) of \(updates.count) events")
        }
        return numbered
    }

    /// `notice` with `text` inline, or, when that is too large for a notice, stored in
    /// `herald_payloads` (in the caller's transaction, if any) and named.
    func fitted(_ text: String, on connection: PostgresConnection, as notice: (Notice.Body) -> Notice) async throws -> Notice {
        let inline = notice(.inline(text))
        if inline.fitsOneNotice { return inline }
        let rows = try await connection.query("INSERT INTO herald_payloads (body) VALUES (\(text)) RETURNING id", logger: logger)
        for try await id in rows.decode(Int.self) { return notice(.stored(id)) }
        throw PostgresBrokerError(.unexpectedAnswer, "the payload was not stored")
    }

    /// Seals `notices`, as few to a `NOTIFY` as fit, and sends them in order in one statement.
    func notify(_ notices: [Notice], on connection: PostgresConnection) async throws {
        let sealed = Notice.pack(notices).map { sealer.seal($0, at: Date()) }
        guard !sealed.isEmpty else { return }
        _ = try await connection.execute(AnnounceNotices(sealed: sealed), logger: logger)
    }
}
