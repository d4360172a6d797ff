import Hummingbird
import NIOCore

/// Reads request bodies with a limit that still lets the client see the answer.
enum RequestBody {
    /// How much of an oversized body is read and discarded so the `413` reaches the client
    /// instead of a connection reset; past this the connection is simply closed.
    static let drainLimit = 16 << 20

    /// The whole body, or `413 payload_too_large` once it passes `limit` bytes.
    static func collect(_ request: Request, limit: Int) async -> Result<ByteBuffer, ConnectRejection> {
        var body = ByteBuffer()
        var total = 0
        do {
            for try await chunk in request.body {
                total += chunk.readableBytes
                if total <= limit {
                    var chunk = chunk
                    body.writeBuffer(&chunk)
                } else if total > drainLimit {
                    break
                }
            }
        } catch {
            return .failure(ConnectRejection(.badRequest, reason: "invalid_body", message: "the request body could not be read"))
        }
        guard total <= limit else {
            return .failure(
                ConnectRejection(.contentTooLarge, reason: "payload_too_large", message: "the body is over \(limit) bytes")
            )
        }
        return .success(body)
    }
}
