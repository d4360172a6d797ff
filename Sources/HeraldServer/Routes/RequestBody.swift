import Hummingbird
import NIOCore

/// Reads request bodies up to a limit.
enum RequestBody {
    /// The whole body, or `413 payload_too_large` as soon as it passes `limit` bytes. The rest is
    /// not read: the refusal says `Connection: close`, and the connection's lingering close lets the
    /// client see it instead of a reset.
    static func collect(_ request: Request, limit: Int) async -> Result<ByteBuffer, RefusedBody> {
        var body = ByteBuffer()
        do {
            for try await chunk in request.body {
                guard body.readableBytes + chunk.readableBytes <= limit else {
                    return .failure(
                        RefusedBody(ConnectRejection(.contentTooLarge, reason: "payload_too_large", message: "the body is over \(limit) bytes"))
                    )
                }
                var chunk = chunk
                body.writeBuffer(&chunk)
            }
        } catch {
            return .failure(RefusedBody(ConnectRejection(.badRequest, reason: "invalid_body", message: "the request body could not be read")))
        }
        return .success(body)
    }

    /// A body refused before it was read to its end.
    struct RefusedBody: Error {
        let rejection: ConnectRejection
        init(_ rejection: ConnectRejection) { self.rejection = rejection }

        /// The refusal, closing the connection (the rest of the body is not read).
        var response: Response { rejection.closingResponse }
    }
}
