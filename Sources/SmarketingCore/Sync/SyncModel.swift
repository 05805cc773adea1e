/// The tools a workspace can connect to (docs/INTEGRATIONS.md).
public enum Vendor: String, CaseIterable, Sendable, Codable, Hashable {
    case hubspot, salesforce, pipedrive, marketo, pardot

    /// The name people know it by.
    public var displayName: String {
        switch self {
        case .hubspot: return "HubSpot"
        case .salesforce: return "Salesforce"
        case .pipedrive: return "Pipedrive"
        case .marketo: return "Marketo"
        case .pardot: return "Pardot (Account Engagement)"
        }
    }
}

/// What a sync reads, in the order it reads it: owners before the records they own, companies
/// before people, people before the deals and touches that name them.
public enum SyncObject: String, CaseIterable, Sendable, Codable, Hashable {
    case owners, companies, campaigns, people, deals, memberships, activities

    /// The smarketing resource its records become.
    public var resource: Resource {
        switch self {
        case .owners: return .users
        case .companies: return .accounts
        case .campaigns: return .campaigns
        case .people: return .contacts
        case .deals: return .opportunities
        case .memberships, .activities: return .touchpoints
        }
    }
}

/// A sales user in the vendor (HubSpot owner, Salesforce user, Pipedrive user, …).
public struct SyncedOwner: Sendable, Hashable {
    public var externalID: String
    public var email: String?
    public var name: String?

    public init(externalID: String, email: String?, name: String?) {
        self.externalID = externalID
        self.email = email
        self.name = name
    }
}

/// A company (HubSpot company, Salesforce account, Pipedrive organization, …).
public struct SyncedCompany: Sendable, Hashable {
    public var externalID: String
    public var name: String?
    public var domain: String?
    public var industry: String?
    public var employees: Double?
    public var annualRevenue: Double?
    public var country: String?
    public var ownerID: String?
    public var createdAt: Timestamp?
    public var deleted = false

    public init(externalID: String) { self.externalID = externalID }
}

/// A person (contact, lead, person, prospect). `object` is the vendor's object name, since a
/// vendor may hold one person twice (a Salesforce lead and a contact).
public struct SyncedPerson: Sendable, Hashable {
    public var externalID: String
    public var object: String
    public var email: String?
    public var firstName: String?
    public var lastName: String?
    public var title: String?
    public var phone: String?
    public var country: String?
    public var companyID: String?
    /// The company name when the vendor has no company record (a Salesforce lead's `Company`).
    public var companyName: String?
    public var ownerID: String?
    /// The vendor's lifecycle stage or lead status, as the vendor writes it.
    public var stage: String?
    public var source: String?
    public var createdAt: Timestamp?
    /// When the vendor says the person entered each stage (vendor stage value → time).
    public var stageDates: [String: Timestamp] = [:]
    public var deleted = false
    /// Vendor ids of records the vendor merged into this one.
    public var mergedIDs: [String] = []
    /// Values of vendor fields the mapping asked for (vendor field name → text).
    public var extra: [String: String] = [:]

    public init(externalID: String, object: String) {
        self.externalID = externalID
        self.object = object
    }
}

/// A deal or opportunity.
public struct SyncedDeal: Sendable, Hashable {
    public var externalID: String
    public var name: String?
    public var amount: Double?
    public var pipeline: String?
    /// The vendor's stage value (id or name).
    public var stage: String?
    /// The vendor's own won/lost flag where it has one (Pipedrive `status`, Salesforce `IsWon`).
    public var won: Bool?
    public var closed: Bool?
    public var lostReason: String?
    public var ownerID: String?
    public var companyID: String?
    /// People on the deal (vendor person id, role), the first the primary contact.
    public var contacts: [SyncedRole] = []
    public var createdAt: Timestamp?
    public var closeDate: LocalDate?
    public var closedAt: Timestamp?
    public var campaignID: String?
    public var deleted = false

    public init(externalID: String) { self.externalID = externalID }
}

/// A person's role on a deal.
public struct SyncedRole: Sendable, Hashable {
    public var personID: String
    public var role: String?

    public init(personID: String, role: String?) {
        self.personID = personID
        self.role = role
    }
}

/// A campaign or program.
public struct SyncedCampaign: Sendable, Hashable {
    public var externalID: String
    public var name: String?
    public var type: String?
    public var channel: String?
    public var startDate: LocalDate?
    public var endDate: LocalDate?
    public var budget: Double?

    public init(externalID: String) { self.externalID = externalID }
}

/// A person's membership of a campaign (Salesforce campaign member, Marketo program member).
public struct SyncedMembership: Sendable, Hashable {
    public var externalID: String
    public var campaignID: String
    public var personID: String
    public var status: String?
    public var responded: Bool
    public var at: Timestamp

    public init(externalID: String, campaignID: String, personID: String, status: String?, responded: Bool, at: Timestamp) {
        self.externalID = externalID
        self.campaignID = campaignID
        self.personID = personID
        self.status = status
        self.responded = responded
        self.at = at
    }
}

/// An activity that becomes a touchpoint: an email send, open or click, a form fill, a page view,
/// a webinar, a call, a meeting, a task.
public struct SyncedActivity: Sendable, Hashable {
    public var externalID: String
    public var personID: String
    public var occurredAt: Timestamp
    /// The vendor's activity type as it writes it (`EMAIL`, `Visit Webpage`, `11`, `call`).
    public var kind: String
    public var campaignID: String?
    public var ownerID: String?
    /// A few vendor attributes kept on the touch (subject, URL, form name).
    public var details: [String: String] = [:]

    public init(externalID: String, personID: String, occurredAt: Timestamp, kind: String) {
        self.externalID = externalID
        self.personID = personID
        self.occurredAt = occurredAt
        self.kind = kind
    }
}

/// One record read from a vendor, or why it could not be read.
public enum SyncItem: Sendable, Hashable {
    case owner(SyncedOwner)
    case company(SyncedCompany)
    case person(SyncedPerson)
    case deal(SyncedDeal)
    case campaign(SyncedCampaign)
    case membership(SyncedMembership)
    case activity(SyncedActivity)
    /// The vendor merged the person `mergedID` into `survivorID` (Salesforce `MasterRecordId`).
    case personMerged(object: String, survivorID: String, mergedID: String)
    /// A record the connector read but could not understand (it is reported, never stored).
    case unreadable(externalID: String, reason: String)

    /// The vendor id of the record.
    public var externalID: String {
        switch self {
        case .owner(let x): return x.externalID
        case .company(let x): return x.externalID
        case .person(let x): return x.externalID
        case .deal(let x): return x.externalID
        case .campaign(let x): return x.externalID
        case .membership(let x): return x.externalID
        case .activity(let x): return x.externalID
        case .personMerged(_, _, let id): return id
        case .unreadable(let id, _): return id
        }
    }
}

/// One page of one object, with where the next page starts.
public struct SyncPage: Sendable {
    public var object: SyncObject
    public var items: [SyncItem]
    /// Where to continue (nil: this object is read to the end).
    public var nextCursor: String?
    /// The modification time the next incremental sync starts from, once the object is read to
    /// the end (the latest seen, as the vendor writes it).
    public var watermark: String?
    /// Vendor ids deleted on the vendor side (their links are dropped; our records stay).
    public var deletedIDs: [String] = []

    public init(object: SyncObject, items: [SyncItem], nextCursor: String?, watermark: String?) {
        self.object = object
        self.items = items
        self.nextCursor = nextCursor
        self.watermark = watermark
    }
}

/// What storing one page did.
public struct SyncCounts: Sendable, Codable, Hashable {
    public var read = 0
    public var created = 0
    public var updated = 0
    public var unchanged = 0
    /// Vendor records linked to a record that was already there (same email, same domain).
    public var linked = 0
    /// smarketing records merged because the vendor says they are one person.
    public var merged = 0
    public var skipped = 0
    public var deleted = 0

    public init() {}

    public static func + (a: SyncCounts, b: SyncCounts) -> SyncCounts {
        var c = a
        c.read += b.read
        c.created += b.created
        c.updated += b.updated
        c.unchanged += b.unchanged
        c.linked += b.linked
        c.merged += b.merged
        c.skipped += b.skipped
        c.deleted += b.deleted
        return c
    }
}

/// A record a sync could not take, with why.
public struct SyncSkip: Sendable, Codable, Hashable {
    public var object: String
    public var externalID: String
    public var reason: String

    public init(object: String, externalID: String, reason: String) {
        self.object = object
        self.externalID = externalID
        self.reason = reason
    }
}
