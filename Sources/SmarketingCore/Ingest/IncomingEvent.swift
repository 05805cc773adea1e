/// A validated event, ready for the ingest transaction: a row of `touchpoints.csv` whose contact
/// is named by id or by email.
public struct IncomingEvent: Sendable, Hashable {
    /// The client's id; re-sending an event with the same id is harmless.
    public var id: String
    public var type: String
    public var occurredAt: Timestamp
    public var channel: String?
    public var campaignID: String?
    public var contentID: String?
    /// The user who acted (sales activities); nil for marketing touches.
    public var actorID: String?
    /// JSON object text.
    public var properties: String?
    public var contact: ContactReference

    /// Creates an event.
    public init(
        id: String,
        type: String,
        occurredAt: Timestamp,
        channel: String? = nil,
        campaignID: String? = nil,
        contentID: String? = nil,
        actorID: String? = nil,
        properties: String? = nil,
        contact: ContactReference
    ) {
        self.id = id
        self.type = type
        self.occurredAt = occurredAt
        self.channel = channel
        self.campaignID = campaignID
        self.contentID = contentID
        self.actorID = actorID
        self.properties = properties
        self.contact = contact
    }
}

/// How an event names its contact.
public enum ContactReference: Sendable, Hashable {
    /// An existing contact's id.
    case id(String)
    /// An email key (`EmailAddress.key`), the address as given, and what the event says about
    /// the person; an unknown address creates the contact.
    case email(key: String, address: String, details: ContactDetails)
}

/// Contact fields an event may carry along with an email.
public struct ContactDetails: Sendable, Hashable {
    public var firstName: String?
    public var lastName: String?
    public var title: String?
    public var phone: String?
    public var country: String?
    /// The company name, used to name a new account.
    public var company: String?

    /// Creates details.
    public init(
        firstName: String? = nil,
        lastName: String? = nil,
        title: String? = nil,
        phone: String? = nil,
        country: String? = nil,
        company: String? = nil
    ) {
        self.firstName = firstName
        self.lastName = lastName
        self.title = title
        self.phone = phone
        self.country = country
        self.company = company
    }

    /// The details as contact field names and values (non-empty ones only).
    public var contactFields: [(String, String)] {
        [("first_name", firstName), ("last_name", lastName), ("title", title), ("phone", phone), ("country", country)]
            .compactMap { name, value in value.map { (name, $0) } }
    }
}

/// What became of one event.
public enum EventOutcome: Sendable, Hashable {
    /// Stored now.
    case accepted(contactID: String)
    /// An event with this id was stored before; nothing changed.
    case duplicate
    /// Not stored, with the reason in one sentence.
    case rejected(String)

    /// `accepted`, `duplicate` or `rejected`.
    public var status: String {
        switch self {
        case .accepted: return "accepted"
        case .duplicate: return "duplicate"
        case .rejected: return "rejected"
        }
    }
}
