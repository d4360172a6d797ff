import HeraldClient
import HeraldCore
import HeraldPostgres
import PostgresNIO
import Synchronization
import Testing

/// Many publishes at once, on several nodes: written together (group commit), each entity's events
/// still in one order everywhere, each `POST /events` batch still all or none.
@Suite struct ClusterGroupCommitTests {
    private static let entities = (0..<5).map { "order-\($0)" }
    private var entities: [String] { Self.entities }

    /// The next `count` pushes of `socket`, by entity, in arrival order.
    private func pushes(_ socket: HeraldSocket, count: Int) async throws -> [String: [JSONValue]] {
        var byEntity: [String: [JSONValue]] = [:]
        for index in 0..<count {
            guard case .text(let text)? = await socket.next(timeout: .seconds(10)), let push = JSON.parse(text) else {
                throw TestFailure("push \(index) of \(count) missing")
            }
            byEntity[push["entityId"]?.stringValue ?? "", default: []].append(push)
        }
        return byEntity
    }

    @Test func concurrentPublishesKeepOneOrderPerEntityOnEveryNode() async throws {
        let database = try await TestPostgres.freshDatabase()
        let nodes = [try await ClusterNodes.node(database), try await ClusterNodes.node(database)]
        let sockets = [try await nodes[0].subscriber(to: entities), try await nodes[1].subscriber(to: entities)]
        let (publishers, perPublisher) = (40, 10)
        // Each publisher publishes to one entity in turn, waiting for each answer: its seqs must rise.
        let acked = Shared<[String: Int]>([:])  // message → seq
        try await withThrowingTaskGroup { group in
            for publisher in 0..<publishers {
                group.addTask {
                    let entity = Self.entities[publisher % Self.entities.count]
                    var last = 0
                    for index in 0..<perPublisher {
                        let message = "p\(publisher)-\(index)"
                        let answer = try await nodes[publisher % 2].publish("/entities/\(entity)/updates", #"{"message":"\#(message)"}"#)
                        #expect(answer.status == 202)
                        let seq = try #require(JSON.parse(answer.body)?["seq"]?.intValue)
                        #expect(seq > last, "a publisher's later publish has a later seq")
                        last = seq
                        acked.withLock { $0[message] = seq }
                    }
                }
            }
            try await group.waitForAll()
        }
        let total = publishers * perPublisher
        let perEntity = total / entities.count
        var seen: [[String: [JSONValue]]] = []
        for socket in sockets {
            let byEntity = try await pushes(socket, count: total)
            for entity in entities {
                let received = byEntity[entity] ?? []
                #expect(received.map { $0["seq"]?.intValue } == Array(1...perEntity), "\(entity): every seq once, in order")
                for push in received {
                    let message = push["message"]?.stringValue ?? ""
                    #expect(acked.withLock { $0[message] } == push["seq"]?.intValue, "the push carries the seq its publish was answered with")
                }
            }
            try await socket.expectNothingPending()
            seen.append(byEntity)
        }
        #expect(seen[0] == seen[1], "both nodes sent the same pushes in the same order")
        for node in nodes { try await node.stop() }
    }

    private static func isPoisoned(_ batch: Int) -> Bool { batch % 4 == 1 }

    /// Batches published at once share transactions; one the database refuses (a trigger, here)
    /// fails alone, and nothing of it is published, while the batches beside it are.
    @Test func concurrentBatchesAreEachPublishedWholeOrNotAtAll() async throws {
        let database = try await TestPostgres.freshDatabase()
        let node = try await ClusterNodes.node(database)
        try await TestPostgres.execute(
            [
                """
                CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN IF NEW.entity_id = 'poison' THEN RAISE EXCEPTION 'poison'; END IF; RETURN NEW; END $$
                """,
                "CREATE TRIGGER refuse_poison BEFORE INSERT ON herald_events FOR EACH ROW EXECUTE FUNCTION refuse_poison()",
            ],
            in: database
        )
        let socket = try await node.subscriber(to: entities)
        let batches = 60
        let answers = Shared<[Int: (status: Int, seqs: [Int])]>([:])
        try await withThrowingTaskGroup { group in
            for batch in 0..<batches {
                group.addTask {
                    var entries = Self.entities.map { #"{"detail-type":"Entity Updated","detail":{"entityId":"\#($0)","message":"b\#(batch)"}}"# }
                    if Self.isPoisoned(batch) {
                        entries.insert(#"{"detail-type":"Entity Updated","detail":{"entityId":"poison","message":"x"}}"#, at: 2)
                    }
                    let answer = try await node.publish("/events", "[" + entries.joined(separator: ",") + "]")
                    var seqs: [Int] = []
                    if case .array(let results)? = JSON.parse(answer.body)?["entries"] { seqs = results.compactMap { $0["seq"]?.intValue } }
                    answers.withLock { $0[batch] = (answer.status, seqs) }
                }
            }
            try await group.waitForAll()
        }
        let accepted = (0..<batches).filter { !Self.isPoisoned($0) }
        for batch in 0..<batches {
            let answer = try #require(answers.withLock { $0[batch] })
            #expect(answer.status == (Self.isPoisoned(batch) ? 503 : 200), "batch \(batch)")
            if !Self.isPoisoned(batch) { #expect(answer.seqs.count == entities.count, "batch \(batch): a seq per entry") }
        }
        let byEntity = try await pushes(socket, count: accepted.count * entities.count)
        try await socket.expectNothingPending()
        for entity in entities {
            let received = byEntity[entity] ?? []
            #expect(received.map { $0["seq"]?.intValue } == Array(1...accepted.count), "\(entity): no seq used by a refused batch")
            #expect(
                Set(received.compactMap { $0["message"]?.stringValue }) == Set(accepted.map { "b\($0)" }),
                "\(entity): every accepted batch, no refused one"
            )
        }
        // Each accepted batch's entries were numbered together with what its answer said.
        for batch in accepted {
            let seqs = try #require(answers.withLock { $0[batch] }).seqs
            for (index, entity) in entities.enumerated() {
                #expect(byEntity[entity]?.first { $0["message"] == .string("b\(batch)") }?["seq"]?.intValue == seqs[index])
            }
        }
        try await node.stop()
    }
}

/// A value the tasks of a test share.
private final class Shared<Value: Sendable>: Sendable {
    private let value: Mutex<Value>
    init(_ value: Value) { self.value = Mutex(value) }
    func withLock<Result: Sendable>(_ body: (inout Value) -> Result) -> Result { value.withLock { body(&$0) } }
}

extension JSONValue {
    /// The integer, if this is one.
    fileprivate var intValue: Int? {
        if case .int(let value) = self { return value }
        return nil
    }
}
