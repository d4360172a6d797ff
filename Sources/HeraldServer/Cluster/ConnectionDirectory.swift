import Foundation
import HeraldCore
import HeraldTokens
import Synchronization

/// Every open WebSocket connection of this node, by id: what the admin API and the
/// `@connections` API look up. A connection is listed from its upgrade until its socket closes.
/// (Whose a connection is, the hub knows: `connections(of:)` asks it.)
final class ConnectionDirectory: Sendable {
    private let connections = Mutex<[ConnectionID: WebSocketConnection]>([:])
    private let hub: Hub

    init(hub: Hub) { self.hub = hub }

    func add(_ connection: WebSocketConnection) {
        connections.withLock { $0[connection.connectionID] = connection }
    }

    func remove(_ connection: WebSocketConnection) {
        connections.withLock { _ = $0.removeValue(forKey: connection.connectionID) }
    }

    /// The open connection with this id (the text form), if any.
    func connection(_ id: String) -> WebSocketConnection? {
        guard let id = ConnectionID(id) else { return nil }
        return connections.withLock { $0[id] }
    }

    /// The open connections of `user`, or every open connection when `user` is nil, oldest first.
    func connections(of user: UserID?) -> [WebSocketConnection] {
        let ids = user.map { hub.outlets(of: $0).map(\.connectionID) }
        let listed = connections.withLock { connections in
            ids.map { $0.compactMap { connections[$0] } } ?? Array(connections.values)
        }
        return listed.sorted { $0.connectionID.rawValue < $1.connectionID.rawValue }
    }
}

/// What the admin and `@connections` APIs show of one connection.
struct ConnectionSnapshot: Sendable {
    var connectionID: ConnectionID
    var userID: UserID
    var peer: WebSocketConnection.Peer
    var lastActiveAt: Date
    var subscriptions: Int
}

extension FormatStyle where Self == Date.ISO8601FormatStyle {
    /// ISO 8601 in UTC with milliseconds, as API Gateway shows times (and the JSON logs too).
    static var iso8601Milliseconds: Date.ISO8601FormatStyle { Date.ISO8601FormatStyle(includingFractionalSeconds: true) }
}
