import HeraldCore
import HeraldTokens
import Hummingbird
import NIOCore

/// `GET /metrics`: the Prometheus text exposition of OPERATIONS.md §2 (no key, like `/health`).
struct MetricsRoutes: Sendable {
    let metrics: HeraldMetrics
    let hub: Hub
    let broker: any Broker

    func add(to router: Router<BasicRequestContext>) {
        router.get("metrics") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: metrics.exposition(hub: hub, kept: broker.streamFigures)))
            )
        }
    }
}
