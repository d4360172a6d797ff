public import Hummingbird
public import HummingbirdWebSocket
import NIOCore

/// The request context of every route: Hummingbird's core storage, the WebSocket handler
/// slot, and the admission decided before an upgrade.
public struct HeraldRequestContext: RequestContext, WebSocketRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let webSocket: WebSocketHandlerReference<Self>
    /// Set by `ConnectGate.Middleware` when the upgrade is allowed.
    var admission: Admission?
    /// The client's address, for logs and the admin API.
    let remoteAddress: SocketAddress?

    public init(source: Source) {
        coreContext = .init(source: source)
        webSocket = .init()
        remoteAddress = source.channel.remoteAddress
    }
}
