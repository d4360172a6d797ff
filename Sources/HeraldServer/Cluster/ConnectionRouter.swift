import HeraldCore
import HeraldTokens
import NIOCore

/// Finds a connection on whichever node of the cluster holds it, for the admin and
/// `@connections` APIs (OPERATIONS.md §13: calls are routed to the owner): this node's directory first,
/// then a question to the other nodes when the broker is a cluster's.
///
/// Questions and answers are JSON: `{"op":"post","connectionId","data"}` → `{"done"}`,
/// `{"op":"get","connectionId"}` → `{"connection"}` (null when not there),
/// `{"op":"delete","connectionId"}` → `{"done"}`, `{"op":"list","userId","limit"}` →
/// `{"connections","truncated"}`. A node that does not hold the connection answers all the same,
/// so the asking node knows when every node has been heard.
struct ConnectionRouter: Sendable {
    /// How long the other nodes are given to answer.
    static let timeout: Duration = .seconds(2)

    let local: ConnectionDirectory
    let cluster: (any ClusterChannel)?

    /// Sends `text` as one text frame to the connection; false when no node has it open.
    func post(_ text: String, to id: String) async throws -> Bool {
        if let connection = local.connection(id) { return try await connection.post(ByteBuffer(string: text)) }
        return try await askUntilDone(["op": "post", "connectionId": .string(id), "data": .string(text)])
    }

    /// The connection as it is now; nil when no node has it open.
    func snapshot(of id: String) async throws -> ConnectionSnapshot? {
        if let connection = local.connection(id) { return try? await connection.snapshot() }
        guard let cluster else { return nil }
        let answers = try await cluster.ask(["op": "get", "connectionId": .string(id)], timeout: Self.timeout) { answers in
            answers.contains { $0["connection"]?.objectValue != nil }
        }
        return answers.lazy.compactMap { $0["connection"].flatMap(ConnectionSnapshot.init) }.first
    }

    /// Closes the connection with 4003; false when no node has it open.
    func disconnect(_ id: String) async throws -> Bool {
        if let connection = local.connection(id) { return try await connection.disconnect() }
        return try await askUntilDone(["op": "delete", "connectionId": .string(id)])
    }

    /// The open connections of `user` (every one when nil) on every node, oldest first, at most
    /// `limit`; `truncated` when there were more.
    func list(user: UserID?, limit: Int) async throws -> (connections: [ConnectionSnapshot], truncated: Bool) {
        var (connections, truncated) = await localList(user: user, limit: limit)
        if let cluster {
            let question: JSONValue = ["op": "list", "userId": user.map { .string($0.rawValue) } ?? .null, "limit": .int(limit)]
            for answer in try await cluster.ask(question, timeout: Self.timeout, enough: { _ in false }) {
                guard case .array(let listed)? = answer["connections"] else { continue }
                connections += listed.compactMap(ConnectionSnapshot.init)
                truncated = truncated || answer["truncated"] == .bool(true)
            }
        }
        connections.sort { ($0.peer.connectedAt, $0.connectionID.rawValue) < ($1.peer.connectedAt, $1.connectionID.rawValue) }
        return (Array(connections.prefix(limit)), truncated || connections.count > limit)
    }

    /// What this node answers another node's question with, from its own connections.
    func answer(_ question: JSONValue) async -> JSONValue {
        let id = question["connectionId"]?.stringValue ?? ""
        switch question["op"] {
        case "post":
            guard let text = question["data"]?.stringValue, let connection = local.connection(id) else { return ["done": .bool(false)] }
            return ["done": .bool((try? await connection.post(ByteBuffer(string: text))) ?? false)]
        case "get":
            return ["connection": (try? await local.connection(id)?.snapshot())?.json ?? .null]
        case "delete":
            return ["done": .bool((try? await local.connection(id)?.disconnect()) ?? false)]
        case "list":
            let user = question["userId"]?.stringValue.flatMap(UserID.init)
            guard case .int(let limit)? = question["limit"], limit > 0 else { return ["connections": []] }
            let (connections, truncated) = await localList(user: user, limit: limit)
            return ["connections": .array(connections.map(\.json)), "truncated": .bool(truncated)]
        default:
            return [:]
        }
    }

    private func localList(user: UserID?, limit: Int) async -> (connections: [ConnectionSnapshot], truncated: Bool) {
        let matching = local.connections(of: user)
        var connections: [ConnectionSnapshot] = []
        for connection in matching.prefix(limit) {
            // A connection that closed since it was listed is left out.
            if let snapshot = try? await connection.snapshot() { connections.append(snapshot) }
        }
        return (connections, matching.count > limit)
    }

    /// Asks the other nodes to act on a connection; true once one says it did.
    private func askUntilDone(_ question: JSONValue) async throws -> Bool {
        guard let cluster else { return false }
        let answers = try await cluster.ask(question, timeout: Self.timeout) { $0.contains { $0["done"] == .bool(true) } }
        return answers.contains { $0["done"] == .bool(true) }
    }
}
