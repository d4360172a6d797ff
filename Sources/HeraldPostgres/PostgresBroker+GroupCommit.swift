import Foundation
import HeraldCore
import PostgresNIO
import Synchronization

/// Group commit: the publishes that wait while transactions are on their way are written
/// together, in one transaction, one commit and one `NOTIFY` statement.
extension PostgresBroker {
    /// Publish transactions on their way at once.
    static let publishTransactions = 4
    /// Events in one publish transaction, at most (a larger `POST /events` batch still goes whole).
    static let eventsPerTransaction = 1_000

    /// Writes `batch`, then each next batch the group commit hands out, until none waits.
    func startWriting(_ batch: [PendingPublish]) {
        Task {
            var next: [PendingPublish]? = batch
            while let batch = next {
                await write(batch)
                next = commits.withLock { $0.finished() }
            }
        }
    }

    /// Writes the publishes of `batch` in one transaction and answers each. When the database
    /// refused a statement (it rolled the transaction back, so nothing of it was written), each
    /// publish is written again on its own: a batch it cannot take fails alone, all or none.
    private func write(_ batch: [PendingPublish]) async {
        do {
            let receipts = try await withTimeout(Self.publishTimeout) {
                try await self.client.withConnection { try await self.publish(batch.map(\.events), on: $0) }
            }
            for (pending, receipts) in zip(batch, receipts) { pending.outcome.resolve(.success(receipts)) }
        } catch  where batch.count > 1 && wasRefusedByTheDatabase(error) {
            for pending in batch { await write([pending]) }
        } catch {
            for pending in batch { pending.outcome.resolve(.failure(error)) }
        }
    }
}

/// One publish call waiting for its transaction: its events, ready to write, and its answer.
final class PendingPublish: Sendable {
    let events: [PreparedEvent]
    let outcome = FirstOutcome<[PublishReceipt]>()

    init(_ events: [Event], time: String) {
        self.events = events.map { PreparedEvent($0, id: EventID.next(), time: time) }
    }
}

/// An event as the publish statements take it: its id and its push, an entity update's cut
/// where its `seq` goes (`Push.entityUpdated(_:id:time:)`).
enum PreparedEvent: Sendable {
    case entityUpdate(EntityID, id: String, beforeSeq: String, afterSeq: String)
    case userNotification(UserID, id: String, push: String)

    init(_ event: Event, id: String, time: String) {
        switch event {
        case .entityUpdated(let update):
            let parts = Push.entityUpdated(update, id: id, time: time)
            self = .entityUpdate(update.entityID, id: id, beforeSeq: String(buffer: parts.beforeSeq), afterSeq: String(buffer: parts.afterSeq))
        case .userNotification(let notification):
            self = .userNotification(
                notification.userID,
                id: id,
                push: String(buffer: Push.userNotification(notification, id: id, time: time).payload)
            )
        }
    }
}
