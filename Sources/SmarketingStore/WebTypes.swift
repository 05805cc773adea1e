import SmarketingCore

/// A signed-in browser session. Only the SHA-256 of the cookie's secret is stored, like API
/// tokens; the CSRF token is per session and goes into every form.
public struct WebSession: Sendable, Hashable {
    public var idHash: String
    public var userID: String
    public var role: AccessRole
    public var csrf: String
    public var createdAt: Timestamp
    public var expiresAt: Timestamp

    /// Creates a session.
    public init(idHash: String, userID: String, role: AccessRole, csrf: String, createdAt: Timestamp, expiresAt: Timestamp) {
        self.idHash = idHash
        self.userID = userID
        self.role = role
        self.csrf = csrf
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }
}

/// An API token as the settings page lists it (never the token itself).
public struct TokenInfo: Sendable, Hashable, Codable {
    public var id: String
    public var userID: String
    public var role: AccessRole
    public var name: String
    public var createdAt: Timestamp
    public var revokedAt: Timestamp?
}

/// The lead list's filters: every field optional, combined with AND.
public struct LeadQuery: Sendable, Hashable {
    /// Text in the name or email (an email prefix uses the index).
    public var search: String?
    public var stage: String?
    public var ownerID: String?
    public var grade: String?
    public var personaID: String?
    public var campaignID: String?
    /// Only MQL/SAL/SQL contacts without a sales touch for this many days.
    public var staleDays: Int?
    public var limit = 50
    /// The cursor of the previous page (`next` of its `LeadPage`). The list is newest first, or,
    /// with `staleDays`, longest idle first.
    public var after: String?

    /// Creates an empty query.
    public init() {}
}

/// One row of the lead list.
public struct LeadRow: Sendable, Hashable {
    public var id: String
    public var name: String
    public var email: String
    public var title: String?
    public var accountName: String?
    public var stage: String?
    public var ownerID: String?
    public var ownerName: String?
    public var grade: String?
    public var engagement: Double?
    public var personaID: String?
    public var campaignID: String?
    public var createdAt: Timestamp
}

/// A page of the lead list.
public struct LeadPage: Sendable {
    public var rows: [LeadRow]
    /// The `after` of the next page; nil on the last.
    public var next: String?

    /// Creates a page.
    public init(rows: [LeadRow], next: String?) {
        self.rows = rows
        self.next = next
    }
}

/// How often one content asset was touched, by marketing and by sales.
public struct ContentUsage: Sendable, Hashable {
    public var contentID: String
    /// Touches with the asset that no salesperson made (emails opened, downloads, views).
    public var marketingTouches: Int
    /// Touches a salesperson made with it (sent, shared in a meeting).
    public var salesTouches: Int
    /// Contacts who touched it.
    public var contacts: Int
}

/// The web app's own reads.
public protocol WebReadStore: Sendable {
    /// The lead list, newest first.
    func leads(_ query: LeadQuery, now: Timestamp) async throws -> LeadPage
    /// Open opportunities by stage and owner, aging and slipped close dates at `now` (`today` in the workspace zone).
    func pipelineReview(today: LocalDate, now: Timestamp, slippedLimit: Int) async throws -> PipelineReview
    /// How often each content asset was touched, by marketing and sales.
    func contentUsage() async throws -> [ContentUsage]
}
