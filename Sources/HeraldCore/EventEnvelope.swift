/// The publish shapes `POST /events` accepts (PROTOCOL.md §6), decoded into events.
///
/// - an EventBridge-delivered envelope `{"detail-type": …, "detail": {…}}`, or an array of them;
/// - PutEvents entries `{"Entries": [{"DetailType": …, "Detail": "<JSON string>"}]}`, or the bare array.
///
/// Each entry decodes on its own, so one bad entry does not sink the others.
public enum EventEnvelope {
    /// Why one entry could not be published.
    public struct EntryError: Error, Equatable, Sendable {
        public var code: String
        public var message: String

        public init(code: String, message: String) {
            self.code = code
            self.message = message
        }

        static func unknownDetailType(_ type: String) -> EntryError {
            EntryError(code: "unknown_detail_type", message: "unknown detail type \"\(type)\"")
        }
        static func invalidDetail(_ message: String) -> EntryError {
            EntryError(code: "invalid_detail", message: message)
        }
    }

    /// The body is not JSON, or JSON of none of the accepted shapes.
    public struct ShapeError: Error, Equatable, Sendable {
        public var message: String
    }

    /// Decodes a request body into one result per entry, in order.
    public static func decode(_ body: some Collection<UInt8>) -> Result<[Result<Event, EntryError>], ShapeError> {
        guard let json = JSON.parse(body) else {
            return .failure(ShapeError(message: "the body is not valid JSON"))
        }
        let entries: [[String: JSONValue]]
        switch json {
        case .object(let object) where object["Entries"] != nil:
            guard case .array(let list)? = object["Entries"], let objects = objectsOrNil(list) else {
                return .failure(ShapeError(message: "\"Entries\" must be a non-empty array of objects"))
            }
            entries = objects
        case .object(let object) where object["detail-type"] != nil || object["DetailType"] != nil:
            entries = [object]
        case .array(let list):
            guard let objects = objectsOrNil(list) else {
                return .failure(ShapeError(message: "an array body must hold one or more event objects"))
            }
            entries = objects
        default:
            return .failure(
                ShapeError(message: "expected an EventBridge event, an array of them, or PutEvents {\"Entries\": […]}")
            )
        }
        return .success(entries.map(event(from:)))
    }

    private static func objectsOrNil(_ list: [JSONValue]) -> [[String: JSONValue]]? {
        let objects = list.compactMap(\.objectValue)
        return objects.count == list.count && !objects.isEmpty ? objects : nil
    }

    /// One entry in either spelling: `detail-type` + `detail` (delivered) or `DetailType` + `Detail` (PutEvents).
    static func event(from entry: [String: JSONValue]) -> Result<Event, EntryError> {
        guard case .string(let detailType)? = entry["detail-type"] ?? entry["DetailType"] else {
            return .failure(.invalidDetail("an entry needs a string \"detail-type\" or \"DetailType\""))
        }
        let detail: [String: JSONValue]
        switch entry["detail"] ?? entry["Detail"] {
        case .object(let object)?:
            detail = object
        case .string(let text)?:
            guard case .object(let object)? = JSON.parse(text) else {
                return .failure(.invalidDetail("\"Detail\" must hold a JSON object"))
            }
            detail = object
        default:
            return .failure(.invalidDetail("an entry needs a \"detail\" object or a \"Detail\" JSON string"))
        }
        switch detailType {
        case Event.entityUpdatedDetailType: return entityUpdate(from: detail).map(Event.entityUpdated)
        case Event.userNotificationDetailType: return userNotification(from: detail).map(Event.userNotification)
        default: return .failure(.unknownDetailType(detailType))
        }
    }

    /// The fields of an "Entity Updated" detail; also the body of `POST /entities/{id}/updates`.
    public static func entityUpdate(from detail: [String: JSONValue]) -> Result<EntityUpdate, EntryError> {
        guard case .string(let raw)? = detail["entityId"] else {
            return .failure(.invalidDetail("\"entityId\" is required and must be a string"))
        }
        guard let entityID = EntityID(raw) else {
            return .failure(.invalidDetail("\"entityId\" must be \(EntityID.rule)"))
        }
        return optionalString("message", in: detail).map {
            EntityUpdate(entityID: entityID, message: $0, data: detail["data"].flatMap { $0 == .null ? nil : $0 })
        }
    }

    /// The fields of a "Send User Push Notification" detail; also the body of `POST /users/{id}/notifications`.
    public static func userNotification(from detail: [String: JSONValue]) -> Result<UserNotification, EntryError> {
        guard case .string(let raw)? = detail["userId"] else {
            return .failure(.invalidDetail("\"userId\" is required and must be a string"))
        }
        guard let userID = UserID(raw) else {
            return .failure(.invalidDetail("\"userId\" must be \(EntityID.rule)"))
        }
        guard case .string(let message)? = detail["message"] else {
            return .failure(.invalidDetail("\"message\" is required and must be a string"))
        }
        return optionalString("callback", in: detail).map {
            UserNotification(userID: userID, message: message, callback: $0)
        }
    }

    private static func optionalString(_ key: String, in detail: [String: JSONValue]) -> Result<String?, EntryError> {
        switch detail[key] {
        case nil, .null?: .success(nil)
        case .string(let value)?: .success(value)
        default: .failure(.invalidDetail("\"\(key)\" must be a string"))
        }
    }
}
