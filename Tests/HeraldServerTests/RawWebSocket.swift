import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// A WebSocket client made of raw bytes, for frames no client library sends (unmasked, RSV bits,
/// reserved opcodes, bad close codes, floods): it upgrades, writes the given bytes, then reads
/// everything the server sends until the server ends the connection, and tells how it ended.
enum RawWebSocket {
    /// One frame from the server (the server never masks).
    struct Frame: Equatable, CustomStringConvertible {
        var opcode: UInt8
        var payload: [UInt8]

        /// The status code of a close frame.
        var closeCode: UInt16? {
            opcode == 0x8 && payload.count >= 2 ? UInt16(payload[0]) << 8 | UInt16(payload[1]) : nil
        }

        var text: String { String(decoding: opcode == 0x8 ? payload.dropFirst(2) : payload[...], as: UTF8.self) }
        var description: String { "opcode \(opcode): \(closeCode.map { "\($0) " } ?? "")\(text)" }
    }

    /// How the server ended the connection.
    enum Ending: Equatable {
        /// An orderly end of stream (FIN).
        case endOfStream
        /// A TCP reset (`ECONNRESET`): whatever the client had not read yet was lost.
        case reset
        /// Still open when the read timed out.
        case timedOut
    }

    struct Outcome {
        /// The upgrade's status line.
        var status: String
        var frames: [Frame]
        var ending: Ending

        /// The code of the server's close frame, if one came.
        var closeCode: UInt16? { frames.last { $0.opcode == 0x8 }?.closeCode }
    }

    /// Upgrades with `token`, writes `bytes` (frames made by `frame`) at once, then reads until
    /// the server ends the connection or `timeout` passes.
    static func exchange(port: Int, token: String, sending bytes: [UInt8], timeout: Duration = .seconds(10)) async throws -> Outcome {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
            }
        let timedOut = TimeoutFlag()
        let deadline = channel.channel.eventLoop.scheduleTask(in: TimeAmount(timeout)) {
            timedOut.set()
            channel.channel.close(promise: nil)
        }
        defer { deadline.cancel() }
        return try await channel.executeThenClose { inbound, outbound in
            var request = ByteBuffer(string: FuzzTests.upgradeRequest(query: "?access_token=\(token)") + "\r\n\r\n")
            request.writeBytes(bytes)
            try await outbound.write(request)
            var received: [UInt8] = []
            var ending = Ending.endOfStream
            do {
                for try await chunk in inbound { received += chunk.readableBytesView }
            } catch let error as IOError where error.errnoCode == ECONNRESET {
                ending = .reset
            }
            if timedOut.isSet { ending = .timedOut }
            guard let headEnd = received.firstRange(of: Array("\r\n\r\n".utf8)) else {
                return Outcome(status: String(decoding: received, as: UTF8.self), frames: [], ending: ending)
            }
            let head = String(decoding: received[..<headEnd.lowerBound], as: UTF8.self)
            return Outcome(
                status: String(head.split(separator: "\r\n").first ?? ""),
                frames: frames(in: received[headEnd.upperBound...]),
                ending: ending
            )
        }
    }

    /// One client frame. By default what RFC 6455 asks of a client: FIN set, masked, no RSV bit.
    static func frame(opcode: UInt8, payload: [UInt8] = [], fin: Bool = true, reservedBits: UInt8 = 0, masked: Bool = true) -> [UInt8] {
        var frame: [UInt8] = [(fin ? 0x80 : 0) | (reservedBits & 0x7) << 4 | (opcode & 0xF)]
        let mask: UInt8 = masked ? 0x80 : 0
        switch payload.count {
        case 0...125: frame.append(mask | UInt8(payload.count))
        case 126...0xFFFF: frame += [mask | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        default: frame += [mask | 127] + (0..<8).reversed().map { UInt8((payload.count >> ($0 * 8)) & 0xFF) }
        }
        guard masked else { return frame + payload }
        let key: [UInt8] = [0x37, 0xFA, 0x21, 0x3D]
        return frame + key + payload.enumerated().map { $0.element ^ key[$0.offset % 4] }
    }

    /// A masked text frame.
    static func text(_ text: String) -> [UInt8] { frame(opcode: 0x1, payload: Array(text.utf8)) }

    /// A masked close frame with `code` (none when nil) and `reason` bytes.
    static func close(_ code: UInt16?, reason: [UInt8] = []) -> [UInt8] {
        frame(opcode: 0x8, payload: (code.map { [UInt8($0 >> 8), UInt8($0 & 0xFF)] } ?? []) + reason)
    }

    private static func frames(in bytes: ArraySlice<UInt8>) -> [Frame] {
        var frames: [Frame] = []
        var rest = bytes
        while rest.count >= 2 {
            let first = rest[rest.startIndex]
            let second = rest[rest.startIndex + 1]
            var header = 2
            var length = Int(second & 0x7F)
            if length == 126, rest.count >= 4 {
                length = Int(rest[rest.startIndex + 2]) << 8 | Int(rest[rest.startIndex + 3])
                header = 4
            } else if length == 127, rest.count >= 10 {
                length = rest.dropFirst(2).prefix(8).reduce(0) { $0 << 8 | Int($1) }
                header = 10
            }
            guard rest.count >= header + length else { break }
            frames.append(Frame(opcode: first & 0xF, payload: Array(rest.dropFirst(header).prefix(length))))
            rest = rest.dropFirst(header + length)
        }
        return frames
    }
}

/// Set from the event loop when the read timed out.
private final class TimeoutFlag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}
