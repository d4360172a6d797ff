import Foundation
import HTTPTypes
import HeraldClient
import HeraldCore
import HeraldServer
import HeraldTokens
import NIOCore
import NIOHTTP1
import Testing
import Yams

/// Keeps docs/openapi.yaml and docs/asyncapi.yaml true (CLIENT.md): their examples go to a live server over real
/// HTTP and WebSocket clients, and every answer must be one the documents describe, with the documented schema.
@Suite struct APIDocumentTests {
    /// Mirrors ErrorCode.swift (not CaseIterable); the exhaustive switch in `mirrors` stops compiling when a case is added.
    static let errorCodes: [ErrorCode] = [
        .invalidJSON, .unknownAction, .invalidMessage, .invalidEntityID, .subscriptionLimit, .forbidden, .rateLimited, .unsupportedFrame,
        .tokenInvalid, .tokenExpired,
    ]
    static func mirrors(_ code: ErrorCode) {
        switch code {
        case .invalidJSON, .unknownAction, .invalidMessage, .invalidEntityID, .subscriptionLimit, .forbidden, .rateLimited, .unsupportedFrame,
            .tokenInvalid, .tokenExpired:
            break
        }
    }
    /// Mirrors the constants of CloseReason.swift.
    static let closeReasons: [CloseReason] = [
        .normal, .goingAway, .idle, .protocolError, .invalidText, .policyViolation, .messageTooBig, .slowConsumer, .tokenExpired,
        .lifetimeReached, .disconnectedByAdmin,
    ]
    /// Mirrors the `reason:` literals of Sources/HeraldServer (HTTPRefusal, ConnectGate, PublishKeys, RequestBody, PublishRoutes
    /// with EventEnvelope's `invalid_detail`, AdminRoutes, ManagementRoutes, PathParameter), plus TokenRejection.Reason.
    static let serverReasons = Set(
        [
            "bad_subprotocol", "bad_upgrade", "origin_not_allowed", "over_capacity", "rate_limited", "draining", "broker_unavailable",
            "not_found", "unauthorized", "invalid_body", "invalid_detail", "payload_too_large", "invalid_query", "gone",
            "invalid_path", "invalid_entity_id", "invalid_user_id", "invalid_connection_id",
        ] + TokenRejection.Reason.allCases.map(\.rawValue)
    )

    @Test func everyOperationAnswersADocumentedStatusAndBody() async throws {
        let api = try APIDocument("openapi.yaml")
        let server = try await TestServer.start()
        let jwt = try await server.token()
        #expect(
            try await api.exercise(server, jwt: jwt) == [
                "GET /": [400], "POST /events": [200, 200, 200, 200], "POST /entities/{entityId}/updates": [202],
                "POST /users/{userId}/notifications": [202], "GET /health": [200], "GET /herald.js": [200], "GET /console": [404],
                "GET /console/token": [404], "GET /ready": [200],
                "GET /metrics": [200], "GET /admin/stats": [200], "GET /admin/connections": [200], "DELETE /admin/connections/{connectionId}": [404],
                "POST /@connections/{connectionId}": [410], "GET /@connections/{connectionId}": [410], "DELETE /@connections/{connectionId}": [410],
            ]
        )
        // Again with a live connection (listed by /admin/connections) and its id in the id routes: their success answers.
        let socket = try await server.connect(user: "myuserid")
        let statuses = try await api.exercise(server, jwt: jwt, connectionId: try await server.connectionID(of: "myuserid"))
        #expect(statuses["POST /@connections/{connectionId}"] == [200] && statuses["GET /@connections/{connectionId}"] == [200])
        #expect(statuses["DELETE /@connections/{connectionId}"] == [204] && statuses["DELETE /admin/connections/{connectionId}"] == [404])
        #expect(try await socket.json() == JSON.parse(#"{"type":"hello"}"#), "the documented POST body arrives verbatim")
        #expect(try await socket.closeCode() == 4003)
        try await server.stop()
    }

    @Test func documentedExamplesMatchTheirSchemasAndCodesMatchTheServer() throws {
        let api = try APIDocument("openapi.yaml")
        let ws = try APIDocument("asyncapi.yaml")
        var checked = 0
        for operation in api.operations {
            for parameter in operation.parameters where parameter["example"] != nil {
                checked += api.expectConforms(parameter["example"]!, parameter["schema"], "\(operation.name) \(parameter["name"]?.stringValue ?? "")")
            }
            for (what, holder) in [("body", operation.spec["requestBody"])]
                + (operation.spec["responses"]?.objectValue ?? [:]).map({ ($0.key, $0.value) })
            {
                for media in api.resolve(holder)?["content"]?.objectValue?.values.map({ $0 }) ?? [] {
                    for example in api.examples(of: media) { checked += api.expectConforms(example, media["schema"], "\(operation.name) \(what)") }
                }
            }
        }
        for (name, message) in ws.root.at("components", "messages")?.objectValue ?? [:] {
            let payload = ws.resolve(message["payload"])
            #expect(payload?.at("properties", "type", "const") != nil || payload?.at("properties", "action", "const") != nil, "\(name)")
            for example in message["examples"]?.elements ?? [] { checked += ws.expectConforms(example["payload"] ?? .null, payload, name) }
        }
        #expect(checked > 55)
        #expect(Set(api.root.at("components", "schemas", "ErrorReason", "enum")?.strings ?? []) == Self.serverReasons)
        let codes = Set(ws.root.at("components", "schemas", "Error", "properties", "code", "enum")?.strings ?? [])
        #expect(codes == Set(Self.errorCodes.map(\.rawValue)))
        #expect(codes == (try APIDocument.protocolTable(under: "### Errors")))
        let closeCodes = Set(ws.root["x-close-codes"]?.objectValue?.keys.map { $0 } ?? [])
        #expect(Set(Self.closeReasons.map { String($0.code) }).isSubset(of: closeCodes))
        #expect(closeCodes == (try APIDocument.protocolTable(under: "## 5. Close codes")))
    }

    @Test func everyClientMessageExampleGetsADocumentedReply() async throws {
        let ws = try APIDocument("asyncapi.yaml")
        let server = try await TestServer.start()
        var sent = 0
        for (name, operation) in ws.root["operations"]?.objectValue ?? [:] where operation["action"] == "receive" {
            let replies = ws.messages(operation["reply"]?["messages"])
            #expect(replies.contains { $0.type == "error" }, "\(name) pairs no error reply")
            for example in ws.messages(operation["messages"]).flatMap({ $0.spec["examples"]?.elements ?? [] }) {
                guard case .object(var payload)? = example["payload"] else { throw TestFailure("\(name): an example without a payload") }
                // The documented token is a shortened placeholder: a refresh gets a real one.
                if payload["token"] != nil { payload["token"] = .string(try await server.token()) }
                let socket = try await server.connect()
                socket.send(JSONValue.object(payload).encoded)
                let reply = try await socket.json()
                let documented = replies.first { $0.type == reply["type"]?.stringValue }
                #expect(documented != nil && reply["type"] != "error", "\(name): \(reply) is not the documented reply")
                #expect(reply["requestId"] == payload["requestId"], "\(name): requestId not echoed")
                ws.expectConforms(reply, documented?.payload, "reply to \(name)")
                socket.close(code: 1000)
                sent += 1
            }
        }
        #expect(sent >= 6)
        // A message the server refuses gets the documented error frame.
        let socket = try await server.connect()
        socket.send(#"{"action":"dance","requestId":7}"#)
        ws.expectConforms(try await socket.json(), ws.messages(["$ref": "#/components/messages/error"]).first?.payload, "error")
        try await server.stop()
    }

    @Test func everyTokenSourceConnectsAndPushesAreAsDocumented() async throws {
        let ws = try APIDocument("asyncapi.yaml")
        let api = try APIDocument("openapi.yaml")
        #expect(api.root.at("paths", "/", "get", "responses", "101") != nil)
        let server = try await TestServer.start()
        let jwt = try await server.token(user: "u1")
        var sockets: [HeraldSocket] = []
        for scheme in (ws.root.at("servers", "local", "security")?.elements ?? []).compactMap(ws.resolve) {
            let name = scheme["name"]?.stringValue ?? ""
            let (query, headers): (String, HTTPFields) =
                switch (scheme["type"]?.stringValue ?? "", scheme["in"]?.stringValue ?? "") {
                case ("httpApiKey", "query"): ("?\(name)=\(jwt)", [:])
                case ("httpApiKey", "header"): ("", [HTTPField.Name(name)!: "websocket, \(jwt)"])
                default: ("", [.authorization: "Bearer \(jwt)"])  // `http` bearer
                }
            let socket = try await HeraldSocket.connect(url: server.wsURL + query, headers: headers)
            socket.send(#"{"action":"subscribe","entityId":"order-7"}"#)
            #expect(try await socket.json()["type"] == "subscribed", "\(scheme)")
            sockets.append(socket)
        }
        #expect(sockets.count == 4)
        // openapi.yaml's example of an array of envelopes: an update of order-7 and a notification for u1.
        let envelopes = try #require(
            api.root.at("paths", "/events", "post", "requestBody", "content", "application/json", "examples", "envelopes", "value")
        )
        #expect(try await server.publish("/events", envelopes.encoded).status == 200)
        let pushes = (ws.root["operations"]?.objectValue?.values.filter { $0["action"] == "send" } ?? []).flatMap { ws.messages($0["messages"]) }
        for socket in sockets {
            var seen: Set<String> = []
            for _ in 0..<2 {
                let push = try await socket.json()
                let documented = pushes.first { $0.type == push["type"]?.stringValue }
                #expect(documented != nil, "undocumented push \(push)")
                ws.expectConforms(push, documented?.payload, "push")
                seen.insert(push["type"]?.stringValue ?? "")
            }
            #expect(seen == ["Entity Updated", "User Push Notification"])
        }
        try await server.stop()
    }
}

/// One of the API documents, as JSON, with local `$ref`s followed on demand.
struct APIDocument {
    typealias Operation = (name: String, method: HTTPMethod, path: String, spec: JSONValue, parameters: [JSONValue])
    static let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appending(path: "../docs")
    let root: JSONValue

    init(_ name: String) throws {
        root = Self.json(try #require(try Yams.compose(yaml: String(contentsOf: Self.docs.appending(path: name), encoding: .utf8))))
    }

    /// YAML as JSON; timestamps and other YAML-only scalars stay strings.
    static func json(_ node: Node) -> JSONValue {
        if let mapping = node.mapping { return .object(Dictionary(mapping.map { ($0.key.string ?? "", json($0.value)) }) { first, _ in first }) }
        if let sequence = node.sequence { return .array(sequence.map(json)) }
        switch Tag.Name(rawValue: node.tag.rawValue) {
        case .null: return .null
        case .bool: return node.bool.map(JSONValue.bool) ?? .null
        case .int: return node.int.map(JSONValue.int) ?? .null
        case .float: return node.float.map(JSONValue.double) ?? .null
        default: return .string(node.string ?? "")
        }
    }

    /// The codes (first column, in backticks) of the first table under `heading` in docs/PROTOCOL.md.
    static func protocolTable(under heading: String) throws -> Set<String> {
        let text = try String(contentsOf: docs.appending(path: "PROTOCOL.md"), encoding: .utf8)
        let rows = text[try #require(text.range(of: heading)).upperBound...].split(separator: "\n").drop { !$0.hasPrefix("|") }.prefix {
            $0.hasPrefix("|")
        }
        return Set(rows.filter { $0.hasPrefix("| `") }.map { String($0.split(separator: "`")[1]) })
    }

    func resolve(_ value: JSONValue?) -> JSONValue? {
        guard case .string(let reference)? = value?["$ref"] else { return value }
        return resolve(reference.dropFirst(2).split(separator: "/").reduce(root as JSONValue?) { $0?[String($1)] })
    }

    /// openapi.yaml's operations, with their path's parameters; deletes last.
    var operations: [Operation] {
        (root["paths"]?.objectValue ?? [:]).flatMap { path, item in
            (item.objectValue ?? [:]).filter { ["get", "post", "put", "patch", "delete"].contains($0.key) }.map { key, spec in
                let parameters = ((item["parameters"]?.elements ?? []) + (spec["parameters"]?.elements ?? [])).compactMap(resolve)
                return ("\(key.uppercased()) \(path)", HTTPMethod(rawValue: key.uppercased()), path, spec, parameters)
            }
        }.sorted { ($0.method == .DELETE ? 1 : 0, $0.path) < ($1.method == .DELETE ? 1 : 0, $1.path) }
    }

    func examples(of media: JSONValue) -> [JSONValue] {
        media["example"].map { [$0] } ?? (media["examples"]?.objectValue?.values.compactMap { resolve($0)?["value"] } ?? [])
    }

    /// asyncapi.yaml's messages named by one reference or a list of them, with their payload schema and `type` const.
    func messages(_ references: JSONValue?) -> [(spec: JSONValue, payload: JSONValue?, type: String?)] {
        (references.map { $0.elements.isEmpty ? [$0] : $0.elements } ?? []).compactMap(resolve).map {
            ($0, resolve($0["payload"]), resolve($0["payload"])?.at("properties", "type", "const")?.stringValue)
        }
    }

    /// Sends each operation's examples with the first credential of its security the test can present (a Bearer JWT or
    /// publish key, or a query token), then without one (`401`). Each status must be documented, and the body and headers
    /// must match the documented content type, schema and header consts. Returns the statuses of the credentialed requests.
    func exercise(_ server: TestServer, jwt: String, connectionId: String? = nil) async throws -> [String: [Int]] {
        var statuses: [String: [Int]] = [:]
        for operation in operations {
            var path = operation.path
            var query: [String] = []
            for parameter in operation.parameters {
                guard let name = parameter["name"]?.stringValue, let example = parameter["example"] else { continue }
                let value = name == "connectionId" ? connectionId ?? example.stringValue ?? "" : example.stringValue ?? example.encoded
                if parameter["in"] == "path" { path = path.replacingOccurrences(of: "{\(name)}", with: value) }
                if parameter["in"] == "query" { query.append("\(name)=\(value)") }
            }
            let requirements = (operation.spec["security"] ?? root["security"])?.elements ?? []
            let scheme = requirements.compactMap { root.at("components", "securitySchemes", $0.objectValue?.keys.first ?? "") }
                .first { $0["type"] == "http" || $0["in"] == "query" }
            let bearer = scheme?["type"] == "http" ? (scheme?["bearerFormat"] == "JWT" ? jwt : TestServer.publishKey) : nil
            let credential = scheme?["in"] == "query" ? scheme?["name"]?.stringValue.map { ["\($0)=\(jwt)"] } : nil
            let media = resolve(operation.spec["requestBody"])?["content"]?.objectValue?.first
            let bodies: [[UInt8]?] =
                media.map { media in
                    examples(of: media.value).map { media.key.hasPrefix("application/json") ? JSON.encode($0) : Array(($0.stringValue ?? "").utf8) }
                } ?? [nil]
            for body in bodies {
                for secured in requirements.isEmpty ? [true] : [true, false] {
                    let items = query + (secured ? credential ?? [] : [])
                    let answer = try await server.request(
                        operation.method,
                        path + (items.isEmpty ? "" : "?" + items.joined(separator: "&")),
                        body: body,
                        key: secured ? bearer : nil
                    )
                    let what = "\(operation.name) \(secured ? "" : "without credentials ")answered \(answer.status)"
                    let response = resolve(operation.spec["responses"]?[String(answer.status)])
                    #expect(response != nil && (secured || answer.status == 401), "\(what), which is not documented")
                    for (header, spec) in response?["headers"]?.objectValue ?? [:] {
                        if let value = resolve(spec)?.at("schema", "const") {
                            #expect(answer.headers.first(name: header) == value.stringValue, "\(what)")
                        }
                    }
                    if let content = response?["content"]?.objectValue, answer.body.readableBytes > 0 {
                        let type = answer.headers.first(name: "content-type") ?? ""
                        #expect(content.keys.contains { type == $0 || type.hasPrefix($0 + ";") }, "\(what) with Content-Type \(type)")
                        if let schema = content["application/json"]?["schema"] {
                            expectConforms(JSON.parse(answer.body.readableBytesView) ?? .string(String(buffer: answer.body)), schema, what)
                        }
                    }
                    if secured { statuses[operation.name, default: []].append(answer.status) }
                }
            }
        }
        return statuses
    }

    /// Expects `value` to match `schema`; returns 1, to count the checks.
    @discardableResult func expectConforms(_ value: JSONValue, _ schema: JSONValue?, _ what: String) -> Int {
        let problems = problems(value, schema, at: "$")
        #expect(problems.isEmpty, "\(what): \(value.encoded): \(problems)")
        return 1
    }

    /// Where `value` breaks `schema`, in the JSON Schema subset the documents use.
    func problems(_ value: JSONValue, _ schema: JSONValue?, at path: String) -> [String] {
        guard let schema else { return ["\(path): no schema"] }
        var found = schema["$ref"] == nil ? [] : problems(value, resolve(schema), at: path)
        let types = schema["type"]?.strings ?? []
        if !types.isEmpty, !types.contains(where: value.isOfType) { found.append("\(path) is not \(types)") }
        if let constant = schema["const"], value != constant { found.append("\(path) is not \(constant.encoded)") }
        if let options = schema["enum"]?.elements, !options.contains(value) { found.append("\(path) is not one of \(options.map(\.encoded))") }
        if case .int(let minimum)? = schema["minimum"], case .int(let number) = value, number < minimum { found.append("\(path) < \(minimum)") }
        if schema["format"] == "uuid", case .string(let id) = value, UUID(uuidString: id) == nil || id != id.lowercased() {
            found.append("\(path): no UUID")
        }
        if schema["format"] == "date-time", case .string(let time) = value, time.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/) == nil {
            found.append("\(path): not an RFC 3339 UTC time")
        }
        if case .object(let members) = value {
            found += (schema["required"]?.strings ?? []).filter { members[$0] == nil }.map { "\(path).\($0) is missing" }
            for (key, member) in members {
                if let property = schema["properties"]?[key] {
                    found += problems(member, property, at: "\(path).\(key)")
                } else if schema["additionalProperties"] == .bool(false) {
                    found.append("\(path).\(key) is not documented")
                } else if case .object? = schema["additionalProperties"] {
                    found += problems(member, schema["additionalProperties"], at: "\(path).\(key)")
                }
            }
        }
        if case .array(let items) = value {
            if case .int(let minimum)? = schema["minItems"], items.count < minimum { found.append("\(path) has fewer than \(minimum) items") }
            for (index, item) in items.enumerated() where schema["items"] != nil { found += problems(item, schema["items"], at: "\(path)[\(index)]") }
        }
        for branch in schema["allOf"]?.elements ?? [] { found += problems(value, branch, at: path) }
        let matches = { (branches: [JSONValue]) in branches.count { problems(value, $0, at: path).isEmpty } }
        if let branches = schema["anyOf"]?.elements, matches(branches) == 0 { found.append("\(path) matches no anyOf") }
        if let branches = schema["oneOf"]?.elements, matches(branches) != 1 { found.append("\(path) does not match exactly one oneOf") }
        return found
    }
}

extension JSONValue {
    fileprivate var elements: [JSONValue] { if case .array(let items) = self { items } else { [] } }
    fileprivate var strings: [String] { if case .string(let one) = self { [one] } else { elements.compactMap(\.stringValue) } }
    fileprivate var encoded: String { String(decoding: JSON.encode(self), as: UTF8.self) }
    fileprivate func at(_ keys: String...) -> JSONValue? { keys.reduce(self as JSONValue?) { $0?[$1] } }

    fileprivate func isOfType(_ type: String) -> Bool {
        switch (type, self) {
        case ("object", .object), ("array", .array), ("string", .string), ("boolean", .bool), ("null", .null), ("integer", .int),
            ("number", .int), ("number", .double):
            true
        default: false
        }
    }
}
