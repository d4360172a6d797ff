import ArgumentParser
import Foundation
import HTTPTypes
import HeraldClient
import HeraldCore
import HeraldServer
import HeraldTokens

/// `herald listen ENTITY…`: connect, subscribe, print every push as one JSON line (like wscat).
struct ListenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "listen",
        abstract: "Connect, subscribe to entities and print each push as one JSON line."
    )

    @OptionGroup var client: ClientOptions
    @Argument(help: "Entity ids to subscribe to (none: only user notifications).") var entityIDs: [String] = []
    @Option(help: "Resume after this seq.") var since: Int?
    @Option(help: "A token to connect with (default: a test token signed with the secret).") var token: String?
    @Option(name: .customLong("user-id"), help: "User id of the test token.") var userID = "myuserid"

    func run() async throws {
        var claims = TokenIssuer.Claims()
        claims.userID = userID
        let token: String
        if let given = self.token {
            token = given
        } else {
            token = try await TokenIssuer(secret: client.resolvedSecret()).token(for: claims)
        }
        let url = HTTPURL.webSocket(from: try client.resolvedURL()) + "/"
        let socket: HeraldSocket
        do {
            socket = try await HeraldSocket.connect(url: url, headers: [.authorization: "Bearer \(token)"])
        } catch {
            throw CommandFailure("cannot connect to \(url): \(error)")
        }
        if !entityIDs.isEmpty {
            var subscribe: [String: JSONValue] = ["action": "subscribe", "entityIds": .array(entityIDs.map(JSONValue.string))]
            if let since { subscribe["since"] = .int(since) }
            socket.send(String(decoding: JSON.encode(subscribe), as: UTF8.self))
        }
        while true {
            switch await socket.next(timeout: .seconds(3600)) {
            case nil, .binary?:
                continue
            case .text(let text)?:
                Self.show(text)
            case .closed(let code, let reason)?:
                if code == 1000 { return }
                throw CommandFailure("connection closed: \(code.map(String.init) ?? "no code") \(reason ?? "")")
            }
        }
    }

    /// Pushes go to stdout, one JSON line each; acknowledgements and errors to stderr.
    private static func show(_ text: String) {
        switch JSON.parse(text)?["type"]?.stringValue {
        case "subscribed"?, "unsubscribed"?, "pong"?, "refreshed"?, "error"?:
            Output.error(text)
        default:
            Output.line(text)
        }
    }
}
