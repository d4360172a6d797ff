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

    /// Writes the publishes of `batch` in one transaction and answers each, by the deadline of
    /// the one that came first (one already past it is refused without being written). When the
    /// database refused a statement (it rolled the transaction back, so nothing of it was
    /// written), each publish is written again on its own: a batch it cannot take fails alone,
    /// all or none.
    private func write(_ batch: [PendingPublish]) async {
        let now = ContinuousClock.now
        for late in batch where late.deadline <= now {
            late.refuse(PostgresBrokerError(.unexpectedAnswer, "no answer within \(Self.publishTimeout)"))
        }
        let batch = batch.filter { $0.deadline > now }
        guard let first = batch.map(\.deadline).min() else { return }
        do {
            let receipts = try await withTimeout(now.duration(to: first)) {
                try await self.client.withConnection { try await self.publish(batch.map(\.events), on: $0) }
            }
            for (pending, receipts) in zip(batch, receipts) { pending.answer(.success(receipts)) }
        } catch  where batch.count > 1 && wasRefusedByTheDatabase(error) {
            for pending in batch { await write([pending]) }
        } catch {
            for pending in batch { pending.refuse(error) }
        }
    }
}

/// One publish call waiting for its transaction: its events, ready to write, when it must be
/// answered by, and its answer.
final class PendingPublish: Sendable {
    let events: [PreparedEvent]
    let deadline: ContinuousClock.Instant
    let answer: @Sendable (Result<[PublishReceipt], BrokerError>) -> Void

    init(
        _ events: [Event],
        time: String,
        deadline: ContinuousClock.Instant,
        answer: @escaping @Sendable (Result<[PublishReceipt], BrokerError>) -> Void
    ) {
        self.events = events.map { PreparedEvent($0, id: EventID.next(), time: time) }
        self.deadline = deadline
        self.answer = answer
    }

    /// Answers that none of the events was accepted, and why.
    func refuse(_ error: any Error) {
        answer(.failure(BrokerError(.brokerUnavailable, "the database did not accept the events: \(describe(error))")))
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
