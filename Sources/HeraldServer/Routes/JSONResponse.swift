import HTTPTypes
import HeraldCore
import HeraldTokens
import Hummingbird
import NIOCore

/// Builds a JSON response body member by member, in order.
struct JSONObjectWriterBody {
    private var writer = JSONObjectWriter()

    mutating func add(_ key: StaticString, _ value: String) { writer.add(key, value) }
    mutating func add(_ key: StaticString, _ value: Int) { writer.add(key, value) }
    mutating func add(_ key: StaticString, _ value: Bool) { writer.add(key, value) }
    mutating func add(_ key: StaticString, ifPresent value: Int?) { if let value { writer.add(key, value) } }
    mutating func add(_ key: StaticString, _ value: JSONValue) { writer.add(key, ifPresent: value) }

    consuming func response(status: HTTPResponse.Status) -> Response {
        JSONResponse.make(status: status, body: writer.finish())
    }
}

/// JSON responses with the right content type.
enum JSONResponse {
    static func make(status: HTTPResponse.Status, body: ByteBuffer) -> Response {
        Response(
            status: status,
            headers: [.contentType: "application/json; charset=utf-8"],
            body: ResponseBody(byteBuffer: body)
        )
    }
}
