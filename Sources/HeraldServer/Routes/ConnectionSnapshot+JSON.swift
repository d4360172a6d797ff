import Foundation
import HeraldCore
import HeraldTokens

/// A connection as the admin API lists it, and as nodes of a cluster send it to each other:
/// `{"connectionId","userId","sourceIp","userAgent","connectedAt","lastActiveAt","subscriptions"}`.
extension ConnectionSnapshot {
    var json: JSONValue {
        var object: [String: JSONValue] = [
            "connectionId": .string("\(connectionID)"),
            "userId": .string("\(userID)"),
            "sourceIp": .string(peer.sourceIP),
            "connectedAt": .string(peer.connectedAt.formatted(.iso8601Milliseconds)),
            "lastActiveAt": .string(lastActiveAt.formatted(.iso8601Milliseconds)),
            "subscriptions": .int(subscriptions),
        ]
        if let userAgent = peer.userAgent { object["userAgent"] = .string(userAgent) }
        return .object(object)
    }

    /// Reads the `json` form; nil when anything is missing or malformed.
    init?(_ json: JSONValue) {
        guard case .string(let id)? = json["connectionId"], let connectionID = ConnectionID(id),
            case .string(let user)? = json["userId"], let userID = UserID(user),
            case .string(let sourceIP)? = json["sourceIp"],
            case .string(let connected)? = json["connectedAt"], let connectedAt = try? Date.ISO8601FormatStyle.iso8601Milliseconds.parse(connected),
            case .string(let active)? = json["lastActiveAt"], let lastActiveAt = try? Date.ISO8601FormatStyle.iso8601Milliseconds.parse(active),
            case .int(let subscriptions)? = json["subscriptions"]
        else { return nil }
        var userAgent: String?
        if case .string(let agent)? = json["userAgent"] { userAgent = agent }
        self.init(
            connectionID: connectionID,
            userID: userID,
            peer: .init(sourceIP: sourceIP, userAgent: userAgent, connectedAt: connectedAt),
            lastActiveAt: lastActiveAt,
            subscriptions: subscriptions
        )
    }
}
