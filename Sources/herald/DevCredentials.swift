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

    /// Writes the file readable by its owner only from its first byte: missing folders are made
    /// 0700, the file is written 0600 under a temporary name and renamed into place.
    func save() throws {
        let url = Self.fileURL
        try Self.makeDirectory(url.deletingLastPathComponent().path)
        let temporary = url.path + ".\(getpid()).tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: temporary]) }
        let contents = JSON.encode(self)
        let written = contents.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        close(descriptor)
        guard written == contents.count, rename(temporary, url.path) == 0 else {
            unlink(temporary)
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path])
        }
    }

    /// Makes `path` and any missing parent, each 0700 (an existing folder is left as it is).
    private static func makeDirectory(_ path: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue { return }
        let parent = (path as NSString).deletingLastPathComponent
        if parent != path, !parent.isEmpty { try makeDirectory(parent) }
        guard mkdir(path, 0o700) == 0 || errno == EEXIST else {
            throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path])
        }
    }

    /// A random secret of 32 bytes, hex-encoded.
    static func randomSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }
}
