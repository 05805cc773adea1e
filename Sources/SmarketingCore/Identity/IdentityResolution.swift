/// What the store knows about a contact that an email matched.
public struct KnownContact: Sendable, Hashable {
    public var id: String
    public var accountID: String?
    /// Current values of the fields an event may fill (`ContactDetails.contactFields` names).
    public var filled: Set<String>

    /// Creates the facts.
    public init(id: String, accountID: String?, filled: Set<String>) {
        self.id = id
        self.accountID = accountID
        self.filled = filled
    }
}

/// The decision for an event that names its contact by email.
public struct IdentityDecision: Sendable, Hashable {
    /// The contact the event belongs to.
    public var contactID: String
    /// A contact to create (contacts schema order), when the address is new.
    public var newContact: [FieldValue]?
    /// An account to create (accounts schema order), when the company domain is new.
    public var newAccount: [FieldValue]?
    /// Blank fields of an existing contact that the event fills.
    public var fill: [(String, FieldValue)]
    /// The account to attach an existing contact that has none.
    public var attachAccountID: String?

    public static func == (a: IdentityDecision, b: IdentityDecision) -> Bool {
        a.contactID == b.contactID && a.newContact == b.newContact && a.newAccount == b.newAccount
            && a.fill.map(\.0) == b.fill.map(\.0) && a.fill.map(\.1) == b.fill.map(\.1)
            && a.attachAccountID == b.attachAccountID
    }
    public func hash(into h: inout Hasher) { h.combine(contactID) }
}

/// Identity resolution: one record per person and per company.
///
/// Rules (docs/IDENTITY.md): an email key names at most one contact (the earliest created, when
/// an import brought duplicates); an unknown address creates a contact as a `lead` at the event's
/// time; its account is the one whose domain is the address's domain, created (named after the
/// event's company, else the domain) when missing, unless the domain is free mail. Known
/// contacts only get blank fields filled, never overwritten.
public enum IdentityResolution {
    /// Decides for one email-identified event. `known` is the contact the key matched, if any;
    /// `accountForDomain` the account whose domain is the address's domain, if any.
    public static func resolve(
        key: String,
        address: String,
        details: ContactDetails,
        event: IncomingEvent,
        known: KnownContact?,
        accountForDomain: String?,
        newContactID: String,
        newAccountID: String
    ) -> IdentityDecision {
        let domain = EmailAddress.domain(ofKey: key)
        let companyDomain = Domain.isFreeMail(domain) ? nil : domain
        var newAccount: [FieldValue]?
        var accountID = accountForDomain
        if accountID == nil, let d = companyDomain, known?.accountID == nil {
            accountID = newAccountID
            let schema = Resource.accounts.schema
            var row = [FieldValue](repeating: .null, count: schema.fields.count)
            row[schema.index["id"]!] = .text(newAccountID)
            row[schema.index["name"]!] = .text(details.company ?? d)
            row[schema.index["domain"]!] = .text(d)
            row[schema.index["created_at"]!] = .timestamp(event.occurredAt)
            newAccount = row
        }
        if let known {
            let fill = details.contactFields.filter { !known.filled.contains($0.0) }.map { ($0.0, FieldValue.text($0.1)) }
            return IdentityDecision(
                contactID: known.id,
                newContact: nil,
                newAccount: known.accountID == nil ? newAccount : nil,
                fill: fill,
                attachAccountID: known.accountID == nil ? accountID : nil
            )
        }
        let schema = Resource.contacts.schema
        var row = [FieldValue](repeating: .null, count: schema.fields.count)
        func set(_ name: String, _ value: FieldValue) { row[schema.index[name]!] = value }
        set("id", .text(newContactID))
        set("email", .text(address))
        for (name, value) in details.contactFields { set(name, .text(value)) }
        if let accountID { set("account_id", .text(accountID)) }
        if let c = event.channel { set("source_channel", .text(c)) }
        if let c = event.campaignID { set("source_campaign_id", .text(c)) }
        set("created_at", .timestamp(event.occurredAt))
        set("lifecycle_stage", .text("lead"))
        set("became_lead_at", .timestamp(event.occurredAt))
        return IdentityDecision(contactID: newContactID, newContact: row, newAccount: newAccount, fill: [], attachAccountID: nil)
    }
}
