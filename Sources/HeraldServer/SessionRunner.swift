import Foundation
import HeraldCore
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOWebSocket

/// Runs one connection on the task Hummingbird made for it: a reader child feeds client frames
/// to the `Session`; this task drains the session's mailbox into the socket in batches, writing
/// the pre-encoded bytes as they are. Nothing else ever writes to the socket.
struct SessionRunner: Sendable {
    let hub: Hub
    let verifier: TokenVerifier
    let limits: HeraldConfiguration.Limits

    func run(
        _ admission: Admission,
        inbound: WebSocketInboundStream,
        outbound: WebSocketOutboundWriter,
        logger: Logger
    ) async throws {
        let session = Session(
            userID: admission.identity.userID,
            hub: hub,
            maxSubscriptions: limits.maxSubscriptions,
            outboundBufferBytes: limits.outboundBufferBytes
        )
        var logger = logger
        logger[metadataKey: "herald.connection.id"] = "\(session.connectionID)"
        logger.debug("Connection opened", metadata: ["herald.source.ip": "\(admission.sourceIP)"])
        defer { session.end() }

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                // However reading ends (client close, error, cancellation), the writer stops after what is queued.
                defer { session.mailbox.finish() }
                try await read(inbound, into: session, identity: admission.identity)
            }
            let closeReason = await write(session.mailbox, to: outbound)
            if let closeReason {
                try? await outbound.close(WebSocketErrorCode(codeNumber: Int(closeReason.code)), reason: closeReason.text)
            }
            logger.debug("Connection closed", metadata: ["herald.close.code": "\(closeReason?.code ?? 1000)"])
            group.cancelAll()
            // Rethrows a reader failure (e.g. a message over the limit) so the close code says why.
            try await group.waitForAll()
        }
    }

    private func read(_ inbound: WebSocketInboundStream, into session: Session, identity: Identity) async throws {
        var identity = identity
        for try await message in inbound.messages(maxSize: limits.maxMessageBytes) {
            switch message {
            case .text(let text):
                if let refresh = session.receive(text: text.utf8) {
                    await self.refresh(refresh, of: &identity, session: session)
                }
            case .binary:
                session.receiveBinary()
            }
        }
    }

    /// `refresh`: a valid token for the same user replaces the old one; anything else leaves it in place.
    private func refresh(_ request: Session.RefreshRequest, of identity: inout Identity, session: Session) async {
        switch await verifier.verify(request.token) {
        case .failure(let rejection):
            let code: ErrorCode = rejection.reason == .expired ? .tokenExpired : .tokenInvalid
            session.reply(ProtocolError(code, rejection.message, requestID: request.requestID))
        case .success(let refreshed) where refreshed.userID != identity.userID:
            session.reply(ProtocolError(.forbidden, "the new token belongs to another user", requestID: request.requestID))
        case .success(let refreshed):
            identity = refreshed
            session.mailbox.post(Push.refreshed(expiresAt: refreshed.expiresAt, requestID: request.requestID))
        }
    }

    /// Drains the mailbox until it closes (returning why) or finishes (returning nil).
    private func write(_ mailbox: Mailbox, to outbound: WebSocketOutboundWriter) async -> CloseReason? {
        do {
            while true {
                switch await mailbox.next() {
                case .frames(let frames):
                    for frame in frames {
                        try await outbound.write(.custom(WebSocketFrame(fin: true, opcode: .text, data: frame)))
                    }
                case .close(let reason):
                    return reason
                case .finished:
                    return nil
                }
            }
        } catch {
            // The socket is gone; there is nobody left to write to.
            mailbox.finish()
            return nil
        }
    }
}
