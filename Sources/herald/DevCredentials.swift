import Foundation
import HeraldCore
import HeraldTokens

/// The credentials `serve --dev` generated, saved so that `listen`, `publish` and `token` in
/// another terminal work with no setup. Only ever read as the last layer, under flags and
/// environment, and only written by `--dev`.
struct DevCredentials: Codable {
    var url: String
    var jwtSecret: String
    var publishKey: String

    /// `$HERALD_DEV_CREDENTIALS`, else `~/.herald/dev-credentials.json`.
    static var fileURL: URL {
        if let path = ProcessInfo.processInfo.environment["HERALD_DEV_CREDENTIALS"] { return URL(fileURLWithPath: path) }
        return FileManager.default.homeDirectoryForCurrentUser.appending(path: ".herald/dev-credentials.json")
    }

    static func load() -> DevCredentials? {
        guard let data = try? Data(contentsOf: fileURL) else { return nil }
        return try? JSONDecoder().decode(DevCredentials.self, from: data)
    }

    func save() throws {
        let url = Self.fileURL
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(JSON.encode(self)).write(to: url, options: .atomic)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: url.path)
    }

    /// A random secret of 32 bytes, hex-encoded.
    static func randomSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }
}
