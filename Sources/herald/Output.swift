import Foundation

/// Unbuffered output: each line is written (and so flushed) at once, which scripts and tests rely on.
enum Output {
    /// One line on stdout.
    static func line(_ text: String) { FileHandle.standardOutput.write(Data((text + "\n").utf8)) }

    /// One line on stderr.
    static func error(_ text: String) { FileHandle.standardError.write(Data((text + "\n").utf8)) }
}
