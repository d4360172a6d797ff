import HeraldCore
import HeraldTokens
import Hummingbird

/// `GET /health` (the process is alive) and `GET /ready` (it accepts clients: not draining, and
/// its broker available).
struct HealthRoutes: Sendable {
    let lifecycle: Lifecycle
    let broker: any Broker

    func add(to router: Router<BasicRequestContext>) {
        router.get("health") { _, _ in
            var body = JSONObjectWriterBody()
            body.add("status", "ok")
            return body.response(status: .ok)
        }
        router.get("ready") { _, _ in
            let reason: String? = lifecycle.isDraining ? "draining" : broker.isAvailable ? nil : "broker_unavailable"
            var body = JSONObjectWriterBody()
            body.add("ready", reason == nil)
            if let reason { body.add("reason", reason) }
            return body.response(status: reason == nil ? .ok : .serviceUnavailable)
        }
    }
}
