import Hummingbird
import NIOCore

/// `GET /herald.js`: the JavaScript client, for pages on any origin (module scripts are fetched
/// with CORS, hence `Access-Control-Allow-Origin: *`; the file holds no secret).
struct ClientRoutes: Sendable {
    func add(to router: Router<BasicRequestContext>) {
        let script = ByteBuffer(string: HeraldJS.source)
        router.get("herald.js") { _, _ in
            Response(
                status: .ok,
                headers: [
                    .contentType: "text/javascript; charset=utf-8",
                    .cacheControl: "public, max-age=300",
                    .accessControlAllowOrigin: "*",
                ],
                body: ResponseBody(byteBuffer: script)
            )
        }
    }
}
