import HeraldCore
import Hummingbird

/// The admin API of SPEC §6, publish-key protected. So far: `GET /admin/stats`.
struct AdminRoutes: Sendable {
    let hub: Hub
    let refusals: Refusals

    func add(to router: Router<BasicRequestContext>, keys: PublishKeys) {
        let group = router.group("admin").add(middleware: PublishKeys.Middleware(keys: keys))
        group.get("stats") { _, _ in
            var body = JSONObjectWriterBody()
            body.add("connections", hub.connections)
            body.add("subscriptions", hub.subscriptions)
            body.add("entities", hub.entities)
            body.add("slowConsumerDisconnects", hub.slowConsumerDisconnects)
            body.add("refusals", .object(refusals.snapshot.mapValues { .int($0) }))
            return body.response(status: .ok)
        }
    }
}
