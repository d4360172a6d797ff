import Foundation
public import HeraldCore
import PostgresNIO
import Synchronization

/// Node-to-node questions over the same channel as events: a question goes to every node, and
/// each live node (a row in `herald_nodes` seen within `liveWithin`) answers the one that asked.
extension PostgresBroker: ClusterChannel {
    /// A node whose heartbeat is older than this is taken for gone.
    static let liveWithin: TimeInterval = 15

    public var cluster: (any ClusterChannel)? { self }

    public func ask(_ question: JSONValue, timeout: Duration, enough: @escaping @Sendable ([JSONValue]) -> Bool) async throws -> [JSONValue] {
        let others = try await liveNodeCount()
        guard others > 0 else { return [] }
        let request = String(UInt64.random(in: 1...UInt64.max), radix: 36)
        let (answers, answered) = AsyncStream.makeStream(of: JSONValue.self)
        asks.withLock { $0[request] = answered }
        defer {
            answered.finish()
            _ = asks.withLock { $0.removeValue(forKey: request) }
        }
        try await client.withConnection { connection in
            try await self.announce(String(decoding: JSON.encode(question), as: UTF8.self), on: connection) {
                .question(request: request, from: self.nodeID, $0)
            }
        }
        return await withTaskGroup { group in
            // At the deadline the stream ends, and so does the wait.
            group.addTask {
                try? await Task.sleep(for: timeout)
                answered.finish()
            }
            var gathered: [JSONValue] = []
            for await answer in answers {
                gathered.append(answer)
                if gathered.count >= others || enough(gathered) { break }
            }
            group.cancelAll()
            return gathered
        }
    }

    public func answerQuestions(with answer: @escaping @Sendable (JSONValue) async -> JSONValue) {
        answerer.withLock { $0 = answer }
    }

    public func reportRejectedNotices(to report: @escaping @Sendable (RejectedNotice) -> Void) {
        rejections.withLock { $0.report = report }
    }

    /// Answers another node's question (called beside the notification stream).
    func answer(_ request: String, from node: String, body: Notice.Body) async {
        do {
            let text = try await client.withConnection { try await self.text(of: body, on: $0) }
            guard let text, let question = JSON.parse(text.utf8), let answerer = answerer.withLock({ $0 }) else { return }
            let answer = String(decoding: JSON.encode(await answerer(question)), as: UTF8.self)
            try await client.withConnection { connection in
                try await self.announce(answer, on: connection) { .answer(request: request, to: node, $0) }
            }
        } catch {
            logger.warning("Could not answer another node", metadata: ["error": "\(describe(error))"])
        }
    }

    /// Hands an answer to the question `request` of this node, if it still waits.
    func heard(_ answer: JSONValue, to request: String) {
        _ = asks.withLock { $0[request] }?.yield(answer)
    }

    /// Notifies every node of `text` in `notice`: inline, or stored in `herald_payloads` when too large.
    func announce(_ text: String, on connection: PostgresConnection, as notice: (Notice.Body) -> Notice) async throws {
        try await notify([try await fitted(text, on: connection, as: notice)], on: connection)
    }

    /// How many other nodes are live.
    private func liveNodeCount() async throws -> Int {
        let rows = try await client.query(
            """
            SELECT count(*) FROM herald_nodes
            WHERE node_id <> \(nodeID) AND seen_at > clock_timestamp() - make_interval(secs => \(Self.liveWithin))
            """,
            logger: logger
        )
        for try await count in rows.decode(Int.self) { return count }
        return 0
    }

    /// Takes this node out of `herald_nodes` (at shutdown, so others stop waiting for it).
    func leave() async {
        _ = try? await client.query("DELETE FROM herald_nodes WHERE node_id = \(nodeID)", logger: logger)
    }
}
