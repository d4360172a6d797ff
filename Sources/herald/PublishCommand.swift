import ArgumentParser
import Foundation
import HeraldClient
import HeraldCore
import HeraldTokens

/// `herald publish`: send events through the HTTP publish API.
struct PublishCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish",
        abstract: "Publish an entity update, a user notification, or a file of events.",
        subcommands: [PublishFile.self, PublishEntity.self, PublishUser.self],
        defaultSubcommand: PublishFile.self
    )
}

/// `herald publish --file events.json`: any shape `POST /events` accepts.
struct PublishFile: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "file", abstract: "Publish the events in a JSON file.")

    @OptionGroup var client: ClientOptions
    @Option(help: "A JSON file in any shape POST /events accepts.") var file: String

    func run() async throws {
        let body: Data
        do {
            body = try Data(contentsOf: URL(fileURLWithPath: file))
        } catch {
            throw CommandFailure("cannot read \(file): \(error.localizedDescription)")
        }
        guard JSON.parse(body) != nil else { throw CommandFailure("\(file) is not valid JSON") }
        let answer = try await send("/events", body: Array(body), client: client)
        if case .int(let failed)? = JSON.parse(answer.body)?["failedEntryCount"], failed > 0 {
            throw CommandFailure("\(failed) entr\(failed == 1 ? "y" : "ies") failed")
        }
    }
}

/// `herald publish entity ID --message …`.
struct PublishEntity: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "entity", abstract: "Publish an \"Entity Updated\" event.")

    @OptionGroup var client: ClientOptions
    @Argument(help: "The entity id.") var entityID: String
    @Option(help: "The message.") var message: String
    @Option(help: "Optional JSON data.") var data: String?

    func run() async throws {
        var body: [String: JSONValue] = ["message": .string(message)]
        if let data {
            guard let value = JSON.parse(data) else { throw CommandFailure("--data is not valid JSON") }
            body["data"] = value
        }
        try await send("/entities/\(entityID.pathEscaped)/updates", body: JSON.encode(body), client: client)
    }
}

/// `herald publish user ID --message …`.
struct PublishUser: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "user", abstract: "Send a user push notification.")

    @OptionGroup var client: ClientOptions
    @Argument(help: "The user id.") var userID: String
    @Option(help: "The message.") var message: String
    @Option(help: "Optional callback URL.") var callback: String?

    func run() async throws {
        var body: [String: JSONValue] = ["message": .string(message)]
        if let callback { body["callback"] = .string(callback) }
        try await send("/users/\(userID.pathEscaped)/notifications", body: JSON.encode(body), client: client)
    }
}

/// Posts, prints the answer, and turns any refusal into a one-line failure.
@discardableResult
private func send(_ path: String, body: [UInt8], client: ClientOptions) async throws -> PublishClient.Answer {
    let publisher = PublishClient(baseURL: try client.resolvedURL(), publishKey: try client.resolvedPublishKey())
    let answer: PublishClient.Answer
    do {
        answer = try await publisher.post(path, body: body)
    } catch {
        throw CommandFailure("cannot reach Herald at \(publisher.baseURL): \(error)")
    }
    guard (200..<300).contains(answer.status) else {
        let message = JSON.parse(answer.body)?["message"]?.stringValue ?? answer.body
        throw CommandFailure("Herald answered \(answer.status): \(message)")
    }
    Output.line(answer.body)
    return answer
}

extension String {
    var pathEscaped: String { addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(["/"])) ?? self }
}
