import HeraldCore
import Hummingbird

/// The admin API of SPEC §6, publish-key protected. So far: `GET /admin/stats`.
struct AdminRoutes: Sendable {
    let hub: Hub

    func add(to router: Router<BasicRequestContext>, keys: PublishKeys) {
        let group = router.group("admin").add(middleware: PublishKeys.Middleware(keys: keys))
        group.get("stats") { _, _ in
            var body = JSONObjectWriterBody()
            body.add("connections", hub.connections)
            body.add("subscriptions", hub.subscriptions)
            body.add("entities", hub.entities)
            body.add("slowConsumerDisconnects", hub.slowConsumerDisconnects)
            return body.response(status: .ok)
        }
    }
}
