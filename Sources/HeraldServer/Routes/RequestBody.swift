import Hummingbird
import NIOCore

/// Reads request bodies up to a limit.
enum RequestBody {
    /// The whole body, or `413 payload_too_large` as soon as it passes `limit` bytes. The rest is
    /// not read: answer the refusal with its `closingResponse`, whose lingering close lets the
    /// client see it instead of a reset.
    static func collect(_ request: Request, limit: Int) async -> Result<ByteBuffer, ConnectRejection> {
        var body = ByteBuffer()
        do {
            for try await chunk in request.body {
                guard body.readableBytes + chunk.readableBytes <= limit else {
                    return .failure(ConnectRejection(.contentTooLarge, reason: "payload_too_large", message: "the body is over \(limit) bytes"))
                }
                var chunk = chunk
                body.writeBuffer(&chunk)
            }
        } catch {
            return .failure(ConnectRejection(.badRequest, reason: "invalid_body", message: "the request body could not be read"))
        }
        return .success(body)
    }
}
