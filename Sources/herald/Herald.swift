import ArgumentParser

/// `herald`: the WebSocket push gateway and its client tools.
@main
struct Herald: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "herald",
        abstract: "WebSocket gateway that pushes entity updates and user notifications to authenticated clients.",
        subcommands: [ServeCommand.self, TokenCommand.self, PublishCommand.self, ListenCommand.self, BenchCommand.self, SettingsCommand.self]
    )
}

/// A failure reported as one line on stderr with a non-zero exit.
struct CommandFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
