/// An event as a client sends it to `POST /api/v1/events`: the fields of a `touchpoints.csv`
/// row, with the contact named by `contact_id` or by `email` (plus optional contact fields).
///
/// Decoding never fails on a field: problems are collected, so one bad event in a batch is
/// reported by position instead of failing the whole body.
public struct EventPayload: Sendable, Decodable {
    /// Every field an event may have.
    public static let fields: [String] = [
        "id", "type", "occurred_at", "channel", "campaign_id", "content_id", "actor_id", "properties",
        "contact_id", "email", "first_name", "last_name", "title", "phone", "country", "company",
    ]
    static let required = ["id", "type", "occurred_at"]

    var strings: [String: String] = [:]
    var properties: String?
    /// The first problem found while decoding, in one sentence.
    public private(set) var problem: String?

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public init(from decoder: any Decoder) throws {
        guard let c = try? decoder.container(keyedBy: Key.self) else {
            problem = "an event must be a JSON object"
            return
        }
        for key in c.allKeys {
            let name = key.stringValue
            guard EventPayload.fields.contains(name) else {
                problem = problem ?? "unknown field \"\(name)\" (allowed: \(EventPayload.fields.joined(separator: ", ")))"
                continue
            }
            if name == "properties" {
                guard let v = try? c.decode(JSONValue.self, forKey: key) else {
                    problem = problem ?? "field \"properties\" is not valid JSON"
                    continue
                }
                switch v {
                case .null: break
                case .object: properties = v.compactText
                default: problem = problem ?? "field \"properties\" must be a JSON object"
                }
                continue
            }
            if (try? c.decodeNil(forKey: key)) == true { continue }
            guard let s = try? c.decode(String.self, forKey: key) else {
                problem = problem ?? "field \"\(name)\" must be a string"
                continue
            }
            if !s.isEmpty { strings[name] = s }
        }
    }

    /// Builds a payload from field texts (tests, CSV-shaped input).
    public init(fields: [String: String], properties: String? = nil) {
        self.strings = fields.filter { !$0.value.isEmpty }
        self.properties = properties
    }

    /// The text of a field as sent, if any.
    public func fieldText(_ name: String) -> String? { strings[name] }

    /// Checks the payload and makes the event, or says in one sentence why not.
    public func validate() -> Result<IncomingEvent, EventRejection> {
        if let problem { return .failure(EventRejection(problem)) }
        for name in EventPayload.required where strings[name] == nil {
            return .failure(EventRejection("missing required field \"\(name)\""))
        }
        let occurred: Timestamp
        switch Timestamp.parse(strings["occurred_at"]!) {
        case .success(let t): occurred = t
        case .failure(let e): return .failure(EventRejection("field \"occurred_at\" \(e.description)"))
        }
        let reference: ContactReference
        if let id = strings["contact_id"] {
            reference = .id(id)
        } else if let email = strings["email"] {
            guard let key = EmailAddress.key(email) else {
                return .failure(EventRejection("field \"email\" is not an email address"))
            }
            reference = .email(
                key: key, address: EmailAddress.trim(email),
                details: ContactDetails(
                    firstName: strings["first_name"], lastName: strings["last_name"], title: strings["title"],
                    phone: strings["phone"], country: strings["country"], company: strings["company"]))
        } else {
            return .failure(EventRejection("an event needs \"contact_id\" or \"email\""))
        }
        return .success(
            IncomingEvent(
                id: strings["id"]!, type: strings["type"]!, occurredAt: occurred, channel: strings["channel"],
                campaignID: strings["campaign_id"], contentID: strings["content_id"], actorID: strings["actor_id"],
                properties: properties, contact: reference))
    }
}

/// Why an event was not accepted, in one sentence.
public struct EventRejection: Error, Sendable, Hashable {
    public var reason: String
    /// Creates a rejection.
    public init(_ reason: String) { self.reason = reason }
}
