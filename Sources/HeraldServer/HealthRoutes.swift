import Hummingbird

/// `GET /health` (the process is alive) and `GET /ready` (it accepts clients).
struct HealthRoutes: Sendable {
    let lifecycle: Lifecycle

    func add(to router: Router<BasicRequestContext>) {
        router.get("health") { _, _ in
            var body = JSONObjectWriterBody()
            body.add("status", "ok")
            return body.response(status: .ok)
        }
        router.get("ready") { _, _ in
            var body = JSONObjectWriterBody()
            body.add("ready", !lifecycle.isDraining)
            if lifecycle.isDraining { body.add("reason", "draining") }
            return body.response(status: lifecycle.isDraining ? .serviceUnavailable : .ok)
        }
    }
}
