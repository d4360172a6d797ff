import ArgumentParser
import HeraldServer

/// `herald settings`: every setting of `serve`, as the README's table or as the example config file
/// (both are made from this output, and tests keep them equal to it).
struct SettingsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "settings",
        abstract: "Print every setting of serve: a markdown table (default) or, with --yaml, herald.example.yaml."
    )

    @Flag(help: "Print the example config file instead of the table.") var yaml = false

    func run() {
        print(yaml ? Setting.exampleFile : Setting.markdownTable, terminator: "")
    }
}
