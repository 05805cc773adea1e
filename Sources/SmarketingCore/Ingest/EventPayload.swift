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

    /// Field texts by position in `fields` (a fixed array: no hashing per event).
    var values = [String?](repeating: nil, count: 16)
    var properties: String?

    static let fieldIndex: [String: Int] = Dictionary(uniqueKeysWithValues: fields.enumerated().map { ($1, $0) })

    /// The position of a field name in `fields`.
    static func index(of name: String) -> Int? { fieldIndex[name] }

    /// Fields sent as an empty string, by position (bit i = `fields[i]`).
    var emptyFields: UInt32 = 0

    /// Sets a field (non-empty values only; an empty one is remembered for `formProblem`).
    mutating func set(_ index: Int, _ value: String) {
        if value.isEmpty { emptyFields |= 1 << UInt32(index) } else { values[index] = value }
    }

    /// The longest text a field of an event may have (the `Event` schema's `maxLength`).
    public static func maxLength(_ name: String) -> Int { name == "email" ? 254 : 1_000 }

    /// Why the event breaks the documented `Event` form beyond what `validate` reads: empty
    /// `contact_id` or `email`, texts over their length, an `email` or `occurred_at` that does
    /// not match `InputPattern`. Nil when it fits.
    func formProblem() -> String? {
        for index in [EventPayload.iContact, EventPayload.iEmail] where emptyFields & (1 << UInt32(index)) != 0 {
            return "field \"\(EventPayload.fields[index])\" must not be empty"
        }
        for (index, value) in values.enumerated() {
            guard let value else { continue }
            let limit = EventPayload.maxLength(EventPayload.fields[index])
            if value.exceedsLength(limit) {
                return "field \"\(EventPayload.fields[index])\" has more than \(limit) characters"
            }
            // As every way in (`FieldSpec.check`): no database text column holds U+0000.
            if value.utf8.contains(0) { return "field \"\(EventPayload.fields[index])\" contains a NUL character (U+0000)" }
        }
        if let email = values[EventPayload.iEmail], !InputPattern.isEmail(email) { return "field \"email\" is not an email address" }
        if let at = values[EventPayload.iOccurredAt], !InputPattern.isTimestamp(at) {
            return "field \"occurred_at\" is not of the form 2026-03-01T09:15:00Z (a T between date and time, at most 9 fraction digits)"
        }
        return nil
    }

    /// A field's text by name.
    subscript(name: String) -> String? { EventPayload.fieldIndex[name].flatMap { values[$0] } }

    static let iID = 0, iType = 1, iOccurredAt = 2, iChannel = 3, iCampaign = 4, iContent = 5, iActor = 6
    static let iContact = 8, iEmail = 9, iFirstName = 10, iLastName = 11, iTitle = 12, iPhone = 13, iCountry = 14, iCompany = 15

    /// Records the first problem.
    mutating func note(_ message: String) {
        if problem == nil { problem = message }
    }
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
            set(EventPayload.fieldIndex[name]!, s)
        }
    }

    /// Builds a payload from field texts (tests, CSV-shaped input).
    public init(fields: [String: String], properties: String? = nil) {
        for (k, v) in fields where !v.isEmpty { values[EventPayload.fieldIndex[k]!] = v }
        self.properties = properties
    }

    /// The text of a field as sent, if any.
    public func fieldText(_ name: String) -> String? { self[name] }

    /// Checks the payload and makes the event, or says in one sentence why not.
    public func validate() -> Result<IncomingEvent, EventRejection> {
        if let problem { return .failure(EventRejection(problem)) }
        for (i, name) in EventPayload.required.enumerated() where values[i] == nil {
            return .failure(EventRejection("missing required field \"\(name)\""))
        }
        let occurred: Timestamp
        switch Timestamp.parse(values[EventPayload.iOccurredAt]!) {
        case .success(let t): occurred = t
        case .failure(let e): return .failure(EventRejection("field \"occurred_at\" \(e.description)"))
        }
        if let problem = formProblem() { return .failure(EventRejection(problem)) }
        let reference: ContactReference
        if let id = values[EventPayload.iContact] {
            reference = .id(id)
        } else if let email = values[EventPayload.iEmail] {
            guard let key = EmailAddress.key(email) else {
                return .failure(EventRejection("field \"email\" is not an email address"))
            }
            reference = .email(
                key: key,
                address: EmailAddress.trim(email),
                details: ContactDetails(
                    firstName: values[EventPayload.iFirstName],
                    lastName: values[EventPayload.iLastName],
                    title: values[EventPayload.iTitle],
                    phone: values[EventPayload.iPhone],
                    country: values[EventPayload.iCountry],
                    company: values[EventPayload.iCompany]
                )
            )
        } else {
            return .failure(EventRejection("an event needs \"contact_id\" or \"email\""))
        }
        return .success(
            IncomingEvent(
                id: values[EventPayload.iID]!,
                type: values[EventPayload.iType]!,
                occurredAt: occurred,
                channel: values[EventPayload.iChannel],
                campaignID: values[EventPayload.iCampaign],
                contentID: values[EventPayload.iContent],
                actorID: values[EventPayload.iActor],
                properties: properties,
                contact: reference
            )
        )
    }
}

/// Why an event was not accepted, in one sentence.
public struct EventRejection: Error, Sendable, Hashable {
    public var reason: String
    /// Creates a rejection.
    public init(_ reason: String) { self.reason = reason }
}
