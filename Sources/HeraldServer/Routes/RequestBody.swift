import Hummingbird
import NIOCore

/// Reads request bodies up to a limit.
enum RequestBody {
    /// The whole body, or `413 payload_too_large` as soon as it passes `limit` bytes. The rest is
    /// not read: the refusal closes the connection after a lingering close, so the client sees it
    /// instead of a reset.
    static func collect(_ request: Request, limit: Int) async throws(HTTPRefusal) -> ByteBuffer {
        var body = ByteBuffer()
        do {
            for try await chunk in request.body {
                guard body.readableBytes + chunk.readableBytes <= limit else {
                    throw HTTPRefusal(.contentTooLarge, reason: "payload_too_large", message: "the body is over \(limit) bytes").closing
                }
                var chunk = chunk
                body.writeBuffer(&chunk)
            }
        } catch let refusal as HTTPRefusal {
            throw refusal
        } catch {
            throw HTTPRefusal.badRequest("invalid_body", "the request body could not be read").closing
        }
        return body
    }
}
