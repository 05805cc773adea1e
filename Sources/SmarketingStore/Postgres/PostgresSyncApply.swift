import Foundation
import SmarketingCore

/// Applies one page's vendor records inside its PostgreSQL transaction: identity (link, then
/// email or domain, then create), which source wins each field (`SyncMapping.apply`), vendor
/// merges, the audit trail. The same rules as SQLite's `SyncApply`, which runs inside GRDB's
/// synchronous transaction closure and so cannot share this asynchronous code; the field rules,
/// the record shapes and the ids are shared (`SyncMapping`, `SyncRecords`).
struct PGSyncApply {
    let c: PGConn
    let store: PostgresStore
    let connection: String
    let mapping: SyncMapping
    let actor: Actor
    let at: Timestamp
    /// The other connections' names and vendors (for the precedence rules).
    let connected: Set<String>
    var counts = SyncCounts()
    var skips: [SyncSkip] = []

    init(c: PGConn, store: PostgresStore, connection: String, mapping: SyncMapping, actor: Actor, at: Timestamp) async throws {
        self.c = c
        self.store = store
        self.connection = connection
        self.mapping = mapping
        self.actor = actor
        self.at = at
        var names: Set<String> = []
        for r in try await c.rows("SELECT name, vendor FROM connections") {
            if let n = r.text(0) { names.insert(n) }
            if let v = r.text(1) { names.insert(v) }
        }
        connected = names
    }

    var via: String { "sync \(connection) (\(mapping.vendor.rawValue))" }

    // MARK: Links

    /// The smarketing id a vendor record is linked to.
    static func record(_ c: PGConn, _ connection: String, _ object: String, _ externalID: String) async throws -> String? {
        try await c.one(
            "SELECT record_id FROM sync_links WHERE connection = ? AND object = ? AND external_id = ?",
            [.text(connection), .text(object), .text(externalID)]
        )?.text(0)
    }

    /// The first link (by object, then vendor id) of a record.
    static func firstLink(_ c: PGConn, _ connection: String, resource: String, recordID: String) async throws -> (object: String, externalID: String)? {
        try await c.one(
            "SELECT object, external_id FROM sync_links WHERE resource = ? AND record_id = ? AND connection = ? ORDER BY object, external_id LIMIT 1",
            [.text(resource), .text(recordID), .text(connection)]
        ).map { ($0.text(0) ?? "", $0.text(1) ?? "") }
    }

    func linked(_ object: String, _ externalID: String) async throws -> String? {
        try await Self.record(c, connection, object, externalID)
    }

    func link(_ object: String, _ externalID: String, _ resource: Resource, _ recordID: String) async throws {
        try await c.execute(
            """
            INSERT INTO sync_links(connection, object, external_id, resource, record_id, synced_at) VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT (connection, object, external_id) DO UPDATE SET record_id = excluded.record_id, synced_at = excluded.synced_at
            """,
            [.text(connection), .text(object), .text(externalID), .text(resource.rawValue), .text(recordID), .int(at.milliseconds)]
        )
    }

    func unlink(_ object: String, _ externalID: String) async throws -> Bool {
        try await c.execute(
            "DELETE FROM sync_links WHERE connection = ? AND object = ? AND external_id = ? RETURNING 1",
            [.text(connection), .text(object), .text(externalID)]
        ) > 0
    }

    /// The vendor objects a person id is linked under (lead and contact in Salesforce).
    func personObjects(_ externalID: String) async throws -> [String] {
        try await c.rows(
            "SELECT object FROM sync_links WHERE connection = ? AND resource = 'contacts' AND external_id = ? ORDER BY object",
            [.text(connection), .text(externalID)]
        ).compactMap { $0.text(0) }
    }

    // MARK: Items

    mutating func skip(_ object: SyncObject, _ id: String, _ reason: String) {
        counts.skipped += 1
        skips.append(SyncSkip(object: object.rawValue, externalID: id, reason: String(reason.unicodeScalars.prefix(1000))))
    }

    mutating func apply(_ item: SyncItem, object: SyncObject) async throws {
        switch item {
        case .owner(let o): try await owner(o)
        case .company(let co): try await company(co)
        case .person(let p): try await person(p)
        case .deal(let d): try await deal(d)
        case .campaign(let cp): try await campaign(cp)
        case .membership(let m): try await membership(m)
        case .activity(let a): try await activity(a)
        case .personMerged(let object, let survivor, let merged): try await personMerged(object, survivor, merged)
        case .unreadable(_, let reason): throw SyncSkipError(reason)
        }
    }

    /// The vendor merged two people: so do we (the earliest created is kept), and the merged
    /// vendor id keeps pointing at the person.
    mutating func personMerged(_ object: String, _ survivor: String, _ merged: String) async throws {
        let a = try await liveContact(try await linked(object, merged))
        var b: String?
        for o in try await personObjects(survivor) {
            if let found = try await liveContact(try await linked(o, survivor)) { b = found }
        }
        guard let a else { return }
        guard let b, a != b else {
            counts.unchanged += 1
            return
        }
        let kept = try await mergeInto(b, a, why: "merged in \(mapping.vendor.displayName): \(object) \(merged) into \(survivor)")
        try await link(object, merged, .contacts, kept)
    }

    /// The vendor deleted a record: its link goes, our record (and its history) stays.
    mutating func vendorDeleted(_ object: SyncObject, _ id: String) async throws {
        var removed = false
        if object == .people {
            for o in try await personObjects(id) { removed = try await unlink(o, id) || removed }
        } else {
            removed = try await unlink(object.rawValue, id)
        }
        if removed {
            counts.deleted += 1
            try await PostgresStore.audit(c, actor, at, "unlink", object.resource.rawValue, id, "{\"reason\":\"deleted in \(mapping.vendor.rawValue)\"}")
        }
    }

    // MARK: Resolution helpers

    func user(_ ownerID: String?) async throws -> String? {
        guard let ownerID, !ownerID.isEmpty else { return nil }
        if let mapped = mapping.owners[ownerID] { return try await PostgresStore.exists(c, .users, id: mapped) ? mapped : nil }
        return try await linked(SyncObject.owners.rawValue, ownerID)
    }

    func account(_ companyID: String?) async throws -> String? {
        guard let companyID, !companyID.isEmpty else { return nil }
        return try await linked(SyncObject.companies.rawValue, companyID)
    }

    /// A contact id that still exists (a link to a contact merged away follows the merge).
    func liveContact(_ id: String?) async throws -> String? {
        guard let id else { return nil }
        if try await PostgresStore.exists(c, .contacts, id: id) { return id }
        return try await c.one("SELECT kept_id FROM contact_merges WHERE removed_id = ?", [.text(id)])?.text(0)
    }

    func contactForPerson(_ personID: String) async throws -> String? {
        for object in try await personObjects(personID) {
            if let found = try await liveContact(try await linked(object, personID)) { return found }
        }
        return nil
    }

    func newID(_ resource: Resource, _ object: String, _ externalID: String) async throws -> String {
        let id = SyncRecords.recordID(connection: connection, object: object, externalID: externalID)
        if try await !PostgresStore.exists(c, resource, id: id) { return id }
        return store.makeID(String(resource.rawValue.prefix(3)))
    }

    /// Creates or updates a record linked to a vendor id; returns its id.
    mutating func upsert(
        _ resource: Resource,
        object: String,
        externalID: String,
        existing: String?,
        fields: [String: FieldValue],
        alwaysWins: Bool = false
    ) async throws -> String {
        if let id = existing, let record = try await PostgresStore.fetch(c, resource, id: id, lock: true) {
            let changes: [String: FieldValue]
            if alwaysWins {
                changes = fields.filter { record[$0.key] != $0.value }
            } else {
                changes = mapping.apply(incoming: fields, existing: { record[$0] }, connection: connection, connected: connected)
            }
            if changes.isEmpty {
                counts.unchanged += 1
            } else {
                _ = try await store.updateRecord(c, resource, id: id, fields: changes, actor: actor, at: at, detail: via)
                counts.updated += 1
            }
            try await link(object, externalID, resource, id)
            return id
        }
        let id = try await newID(resource, object, externalID)
        var record = Record(resource, values: Array(repeating: .null, count: resource.schema.fields.count))
        record["id"] = .text(id)
        for (k, v) in fields { record[k] = v }
        try await store.insertRecord(c, record, actor: actor, at: at, detail: via + " " + object + " " + externalID)
        try await link(object, externalID, resource, id)
        counts.created += 1
        return id
    }

    // MARK: Objects

    mutating func owner(_ o: SyncedOwner) async throws {
        let object = SyncObject.owners.rawValue
        if let mapped = mapping.owners[o.externalID] {
            guard try await PostgresStore.exists(c, .users, id: mapped) else {
                throw SyncSkipError("owner \(o.externalID) is mapped to user \"\(mapped)\", which does not exist")
            }
            try await link(object, o.externalID, .users, mapped)
            counts.unchanged += 1
            return
        }
        if let known = try await linked(object, o.externalID), try await PostgresStore.exists(c, .users, id: known) {
            counts.unchanged += 1
            return
        }
        guard let email = o.email, let key = EmailAddress.key(email) else {
            throw SyncSkipError("owner has no valid email; map it to a user under owners: in connections.yaml")
        }
        if let user = try await c.one("SELECT id FROM users WHERE email_key = ?", [.text(key)])?.text(0) {
            try await link(object, o.externalID, .users, user)
            counts.linked += 1
            return
        }
        // A vendor owner we do not know becomes a sales user without sign-in (no password, no token).
        _ = try await upsert(
            .users,
            object: object,
            externalID: o.externalID,
            existing: nil,
            fields: ["email": .text(EmailAddress.trim(email)), "name": o.name.map { .text($0) } ?? .null, "team": .text("sales")]
        )
    }

    mutating func company(_ co: SyncedCompany) async throws {
        let object = SyncObject.companies.rawValue
        let owner = try await user(co.ownerID)
        let fields: [String: FieldValue]
        switch SyncRecords.accountFields(co, ownerUserID: owner, now: at) {
        case .success(let f): fields = f
        case .failure(let p): throw SyncSkipError(p.message)
        }
        var existing = try await linked(object, co.externalID)
        if existing == nil, case .text(let domain)? = fields["domain"] {
            existing = try await c.one("SELECT id FROM accounts WHERE domain = ? ORDER BY created_at, id LIMIT 1", [.text(domain)])?.text(0)
            if existing != nil { counts.linked += 1 }
        }
        _ = try await upsert(.accounts, object: object, externalID: co.externalID, existing: existing, fields: fields)
    }

    mutating func campaign(_ cp: SyncedCampaign) async throws {
        let object = SyncObject.campaigns.rawValue
        let fields: [String: FieldValue]
        switch SyncRecords.campaignFields(cp, mapping: mapping) {
        case .success(let f): fields = f
        case .failure(let p): throw SyncSkipError(p.message)
        }
        _ = try await upsert(.campaigns, object: object, externalID: cp.externalID, existing: try await linked(object, cp.externalID), fields: fields)
    }

    mutating func person(_ p: SyncedPerson) async throws {
        let known = try await liveContact(try await linked(p.object, p.externalID))
        if p.deleted {
            try await vendorDeleted(.people, p.externalID)
            return
        }
        // The email key decides who this is (docs/IDENTITY.md).
        var key: String?
        var email: String
        if let raw = p.email, !EmailAddress.trim(raw).isEmpty {
            guard let k = EmailAddress.key(raw) else { throw SyncSkipError("email \"\(raw)\" is not a valid address") }
            key = k
            email = EmailAddress.trim(raw)
        } else {
            email = SyncRecords.placeholderEmail(connection: connection, object: p.object, externalID: p.externalID)
        }
        var target = known
        if let key, let match = try await c.one("SELECT id FROM contacts WHERE email_key = ? ORDER BY created_at, id LIMIT 1", [.text(key)])?.text(0) {
            if let current = target, current != match {
                // The vendor record now has the email of another contact: they are one person.
                target = try await mergeInto(current, match, why: "\(mapping.vendor.displayName) \(p.object) \(p.externalID) has the email \(key)")
            } else if target == nil {
                target = match
                counts.linked += 1
            }
        }
        // Records the vendor merged into this one are one person here too.
        for m in p.mergedIDs where m != p.externalID {
            guard let other = try await liveContact(try await linked(p.object, m)) else { continue }
            if let current = target, current != other {
                target = try await mergeInto(current, other, why: "merged in \(mapping.vendor.displayName): \(p.object) \(m) into \(p.externalID)")
            } else if target == nil {
                target = other
            }
            try await link(p.object, m, .contacts, target ?? other)
        }
        // A person keeps a stand-in address only until the vendor gives a real one.
        if let t = target, key != nil, let contact = try await PostgresStore.fetch(c, .contacts, id: t), SyncRecords.isPlaceholder(contact["email"].text) {
            _ = try await store.updateRecord(c, .contacts, id: t, fields: ["email": .text(email)], actor: actor, at: at, detail: via)
        }
        var accountID = try await account(p.companyID)
        if accountID == nil { accountID = try await companyByName(p.companyName) }
        let fields: [String: FieldValue]
        switch SyncRecords.contactFields(p, mapping: mapping, email: email, accountID: accountID, ownerUserID: try await user(p.ownerID), now: at) {
        case .success(let f): fields = f
        case .failure(let e): throw SyncSkipError(e.message)
        }
        let update = target == nil ? fields : fields.filter { !SyncRecords.newContactOnlyFields.contains($0.key) }
        _ = try await upsert(.contacts, object: p.object, externalID: p.externalID, existing: target, fields: update)
    }

    /// A Salesforce lead names its company only by name: the account with that name, if one.
    func companyByName(_ name: String?) async throws -> String? {
        guard let name = name?.trimmingCharacters(in: .whitespaces), !name.isEmpty else { return nil }
        return try await c.one("SELECT id FROM accounts WHERE name = ? ORDER BY created_at, id LIMIT 1", [.text(name)])?.text(0)
    }

    /// Merges two contacts that are one person; the earliest created is kept. Returns its id.
    mutating func mergeInto(_ a: String, _ b: String, why: String) async throws -> String {
        let order = try await c.rows("SELECT id FROM contacts WHERE id IN (?, ?) ORDER BY created_at, id", [.text(a), .text(b)]).compactMap { $0.text(0) }
        guard order.count == 2 else { return order.first ?? a }
        _ = try await store.mergeContacts(c, keep: order[0], duplicate: order[1], actor: actor, at: at, reason: why)
        counts.merged += 1
        return order[0]
    }

    mutating func deal(_ d: SyncedDeal) async throws {
        let object = SyncObject.deals.rawValue
        let existing = try await linked(object, d.externalID)
        if d.deleted {
            try await vendorDeleted(.deals, d.externalID)
            return
        }
        var contacts: [(String, String?)] = []
        for r in d.contacts {
            if let found = try await contactForPerson(r.personID), !contacts.contains(where: { $0.0 == found }) { contacts.append((found, r.role)) }
        }
        var accountID = try await account(d.companyID)
        if accountID == nil, let first = contacts.first {
            accountID = try await c.one("SELECT account_id FROM contacts WHERE id = ?", [.text(first.0)])?.text(0)
        }
        if accountID == nil, let existing {
            accountID = try await c.one("SELECT account_id FROM opportunities WHERE id = ?", [.text(existing)])?.text(0)
        }
        guard let accountID else { throw SyncSkipError("the deal names no synced company and no person with a company") }
        let fields: [String: FieldValue]
        switch SyncRecords.opportunityFields(
            d,
            mapping: mapping,
            accountID: accountID,
            ownerUserID: try await user(d.ownerID),
            primaryContactID: contacts.first?.0,
            now: at
        ) {
        case .success(let f): fields = f
        case .failure(let e): throw SyncSkipError(e.message)
        }
        // A deal lives in its CRM: the vendor's values win.
        let id = try await upsert(.opportunities, object: object, externalID: d.externalID, existing: existing, fields: fields, alwaysWins: true)
        for (contact, role) in contacts {
            if try await PostgresStore.exists(c, .opportunityContacts, id: id + "|" + contact) { continue }
            var rec = Record(.opportunityContacts, values: Array(repeating: .null, count: Resource.opportunityContacts.schema.fields.count))
            rec["opportunity_id"] = .text(id)
            rec["contact_id"] = .text(contact)
            rec["role"] = role.map { .text($0) } ?? .null
            try await store.insertRecord(c, rec, actor: actor, at: at, detail: via)
        }
    }

    mutating func membership(_ m: SyncedMembership) async throws {
        guard let contact = try await contactForPerson(m.personID) else { throw SyncSkipError("names person \(m.personID), which is not synced") }
        guard let campaign = try await linked(SyncObject.campaigns.rawValue, m.campaignID) else {
            throw SyncSkipError("names campaign \(m.campaignID), which is not synced")
        }
        let channel = try await c.one("SELECT channel FROM campaigns WHERE id = ?", [.text(campaign)])?.text(0)
        let fields: [String: FieldValue]
        switch SyncRecords.membershipTouch(m, vendor: mapping.vendor, contactID: contact, campaignID: campaign, channel: channel) {
        case .success(let f): fields = f
        case .failure(let e): throw SyncSkipError(e.message)
        }
        let object = SyncObject.memberships.rawValue
        _ = try await upsert(.touchpoints, object: object, externalID: m.externalID, existing: try await linked(object, m.externalID), fields: fields, alwaysWins: true)
    }

    mutating func activity(_ a: SyncedActivity) async throws {
        guard let contact = try await contactForPerson(a.personID) else { throw SyncSkipError("names person \(a.personID), which is not synced") }
        var campaign: String?
        if let id = a.campaignID { campaign = try await linked(SyncObject.campaigns.rawValue, id) }
        let fields: [String: FieldValue]
        switch SyncRecords.activityTouch(a, mapping: mapping, contactID: contact, campaignID: campaign, actorID: try await user(a.ownerID)) {
        case .success(let f): fields = f
        case .failure(let e): throw SyncSkipError(e.message)
        }
        let object = SyncObject.activities.rawValue
        let existing = try await linked(object, a.externalID)
        _ = try await upsert(.touchpoints, object: object, externalID: a.externalID, existing: existing, fields: fields, alwaysWins: true)
        if existing == nil { try await store.rescoreAfterEdit(c, contacts: [contact], at: at, event: "sync") }
    }
}
