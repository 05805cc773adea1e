import Crypto
import Foundation
import SmarketingCore

/// A person's record at a vendor (a sync link), where an erasure is pushed.
public struct VendorLink: Sendable, Codable, Hashable {
    public var connection: String
    public var object: String
    public var externalID: String

    public init(connection: String, object: String, externalID: String) {
        self.connection = connection
        self.object = object
        self.externalID = externalID
    }

    enum CodingKeys: String, CodingKey {
        case connection, object
        case externalID = "external_id"
    }
}

/// What an erasure did: the rows it changed by table, and the vendor records to erase there.
public struct ErasureReport: Sendable, Codable, Equatable {
    public var contactID: String
    public var erasedAt: Timestamp
    public var reason: String
    /// Rows changed (cleared, redacted or deleted), by table; tables with none are left out.
    public var changed: [String: Int]
    /// The person's records at connected vendors (their links are gone here).
    public var vendorLinks: [VendorLink]

    enum CodingKeys: String, CodingKey {
        case contactID = "contact_id"
        case erasedAt = "erased_at"
        case reason, changed
        case vendorLinks = "vendor_links"
    }
}

/// What is kept of an erased person: that the address was erased (its SHA-256, never the
/// address), when, by whom and why.
public struct Tombstone: Sendable, Codable, Equatable {
    public var contactID: String
    public var erasedAt: Timestamp
    public var actor: String
    public var reason: String

    public init(contactID: String, erasedAt: Timestamp, actor: String, reason: String) {
        self.contactID = contactID
        self.erasedAt = erasedAt
        self.actor = actor
        self.reason = reason
    }

    enum CodingKeys: String, CodingKey {
        case contactID = "contact_id"
        case erasedAt = "erased_at"
        case actor, reason
    }
}

/// A contact created (or given an address) after an earlier person with the same address was
/// erased: a new record, flagged, never the old one brought back.
public struct ErasureMatch: Sendable, Codable, Equatable {
    public var contactID: String
    public var erasedContactID: String
    public var erasedAt: Timestamp

    public init(contactID: String, erasedContactID: String, erasedAt: Timestamp) {
        self.contactID = contactID
        self.erasedContactID = erasedContactID
        self.erasedAt = erasedAt
    }

    enum CodingKeys: String, CodingKey {
        case contactID = "contact_id"
        case erasedContactID = "erased_contact_id"
        case erasedAt = "erased_at"
    }
}

/// Everything stored about a person beside the contact record, by section (GDPR Art. 15/20).
public struct PersonData: Sendable {
    public var contact: Record
    /// Sections in a fixed order (`PrivacyRules.personQueries`), each a list of rows.
    public var sections: [(name: String, rows: [[String: JSONValue]])]
    public var tombstone: Tombstone?
    public var match: ErasureMatch?
}

/// Erasure, access and the tombstones of erased people (docs/OPERATIONS.md, "Privacy").
public protocol PrivacyStore: Sendable {
    /// Erases the person's personal data everywhere it is stored, keeps the anonymous facts
    /// the figures count and a tombstone, in one transaction. `StoreError.notFound` for an
    /// unknown contact; `conflict` for one already erased.
    func eraseContact(id: String, reason: String, actor: Actor, at: Timestamp) async throws -> ErasureReport
    /// Everything stored about a contact; nil when there is none.
    func personData(contactID: String) async throws -> PersonData?
    /// The tombstones, newest first.
    func tombstones(limit: Int) async throws -> [Tombstone]
    /// The contacts created with an erased person's address, newest first.
    func erasureMatches(limit: Int) async throws -> [ErasureMatch]
    /// The contact whose email key is `key` (the earliest created), if any.
    func contactID(emailKey: String) async throws -> String?
    /// A contact's subscription status; nil when nobody said (`StoreError.notFound` for no contact).
    func consent(contactID: String) async throws -> ContactConsent?
    /// Sets a contact's subscription status (audited); it stands until a later statement.
    func setConsent(contactID: String, status: SubscriptionStatus, source: String, actor: Actor, at: Timestamp) async throws -> ContactConsent
    /// The statuses, by contact id after `after`, only `status` when given.
    func consents(status: SubscriptionStatus?, after: String?, limit: Int) async throws -> [ContactConsent]
    /// Contacts due for retention: not erased, no touch, stage move or handover since `before`,
    /// no open handover and no open deal; by id after `after`, with their last activity.
    func retentionCandidates(before: Timestamp, after: String?, limit: Int) async throws -> [(contactID: String, lastActivity: Timestamp)]
}

enum RetentionRules {
    /// `greatest` is the dialect's many-argument maximum (SQLite: max, PostgreSQL: greatest).
    /// Arguments: the cutoff five times, the id to start after, the limit.
    static func candidates(greatest: String) -> String {
        """
        SELECT c.id, \(greatest)(c.created_at,
            coalesce((SELECT max(t.occurred_at) FROM touchpoints t WHERE t.contact_id = c.id), 0),
            coalesce((SELECT max(l.at) FROM lifecycle_transitions l WHERE l.contact_id = c.id), 0),
            coalesce((SELECT max(h.created_at) FROM handovers h WHERE h.contact_id = c.id), 0))
        FROM contacts c
        WHERE c.created_at < ?
          AND NOT EXISTS (SELECT 1 FROM touchpoints t WHERE t.contact_id = c.id AND t.occurred_at >= ?)
          AND NOT EXISTS (SELECT 1 FROM lifecycle_transitions l WHERE l.contact_id = c.id AND l.at >= ?)
          AND NOT EXISTS (SELECT 1 FROM handovers h WHERE h.contact_id = c.id AND (h.created_at >= ? OR h.status IN ('queued', 'assigned', 'accepted')))
          AND NOT EXISTS (SELECT 1 FROM opportunity_contacts oc JOIN opportunities o ON o.id = oc.opportunity_id
                          WHERE oc.contact_id = c.id AND o.closed_at IS NULL)
          AND NOT EXISTS (SELECT 1 FROM opportunities o WHERE o.primary_contact_id = c.id AND (o.closed_at IS NULL OR o.closed_at >= ?))
          AND NOT EXISTS (SELECT 1 FROM erasures e WHERE e.contact_id = c.id)
          AND c.id > ?
        ORDER BY c.id LIMIT ?
        """
    }
}

/// The SQL both backends share for consent.
enum ConsentRules {
    /// A statement that stands over the stored one only when it is as late or later.
    static let upsert = """
        INSERT INTO contact_consent (contact_id, status, source, at) VALUES (?, ?, ?, ?)
        ON CONFLICT (contact_id) DO UPDATE SET status = excluded.status, source = excluded.source, at = excluded.at
        WHERE excluded.at >= contact_consent.at
        """
    static let one = "SELECT contact_id, status, source, at FROM contact_consent WHERE contact_id = ?"
    static func list(filtered: Bool) -> String {
        "SELECT contact_id, status, source, at FROM contact_consent WHERE contact_id > ?" + (filtered ? " AND status = ?" : "") + " ORDER BY contact_id LIMIT ?"
    }
    /// A merged-away contact's status joins the kept one's when it is later (kept id, removed id, removed id).
    static let merge = """
        INSERT INTO contact_consent (contact_id, status, source, at) SELECT ?, status, source, at FROM contact_consent WHERE contact_id = ?
        ON CONFLICT (contact_id) DO UPDATE SET status = excluded.status, source = excluded.source, at = excluded.at
        WHERE excluded.at > contact_consent.at
        """
    static let removeMerged = "DELETE FROM contact_consent WHERE contact_id = ?"
}

/// The SQL and the rules both backends share for erasure and access.
enum PrivacyRules {
    /// The hash kept of an erased address: SHA-256 of its key, hex. Both backends compute it the
    /// same way in SQL (PostgreSQL's `sha256`, a function SQLite is given) to flag new records.
    static func emailHash(_ key: String) -> String {
        SHA256.hash(data: Data(key.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// A free-text column whose values may name the person anywhere in the workspace (a meeting
    /// note, a sync's skip reason): the person's address and full name are replaced by
    /// `[erased]` where they occur. `key` identifies a row; nil: the whole value is replaced.
    struct TextColumn {
        var table: String
        var column: String
        var key: String?
    }

    static let freeText: [TextColumn] = [
        TextColumn(table: "audit_log", column: "detail", key: "seq"),
        TextColumn(table: "outbox", column: "payload", key: "seq"),
        TextColumn(table: "handover_log", column: "detail", key: "seq"),
        TextColumn(table: "handovers", column: "note", key: "id"),
        TextColumn(table: "handovers", column: "reason", key: "id"),
        TextColumn(table: "lifecycle_transitions", column: "reason", key: "seq"),
        TextColumn(table: "contacts", column: "recycle_reason", key: "id"),
        TextColumn(table: "opportunities", column: "name", key: "id"),
        TextColumn(table: "opportunities", column: "lost_reason", key: "id"),
        TextColumn(table: "webhook_deliveries", column: "last_error", key: "id"),
        TextColumn(table: "writeback_outbox", column: "last_error", key: "seq"),
        TextColumn(table: "writeback_outbox", column: "value", key: "seq"),
        TextColumn(table: "sync_runs", column: "error", key: "id"),
        TextColumn(table: "sync_skips", column: "reason", key: nil),
        TextColumn(table: "connections", column: "last_error", key: "name"),
        TextColumn(table: "meetings", column: "agenda", key: "id"),
        TextColumn(table: "meetings", column: "notes", key: "id"),
        TextColumn(table: "meetings", column: "decisions", key: "id"),
        TextColumn(table: "action_items", column: "title", key: "id"),
        TextColumn(table: "campaign_notes", column: "text", key: "id"),
        TextColumn(table: "lead_ratings", column: "reason", key: "handover_id"),
    ]

    /// Rows of `c` that contain any of `patterns` (one `LIKE` pattern each, lower-cased).
    static func matching(_ c: TextColumn, patterns: Int) -> String {
        let cond = Array(repeating: "lower(\(c.column)) LIKE ? ESCAPE '\\'", count: patterns).joined(separator: " OR ")
        if let key = c.key { return "SELECT \(key), \(c.column) FROM \(c.table) WHERE \(c.column) IS NOT NULL AND (\(cond))" }
        return "UPDATE \(c.table) SET \(c.column) = '\(Erasure.redacted)' WHERE \(c.column) IS NOT NULL AND (\(cond))"
    }

    /// The person's own rows whose whole text goes (they describe the person's history: the
    /// audit entries of their record, the events about them, their handovers' log lines and
    /// notes). Each takes the contact id once.
    static let ownRows: [(table: String, sql: String)] = [
        ("audit_log", "UPDATE audit_log SET detail = '{\"erased\":true}' WHERE resource = 'contacts' AND record_id = ? AND detail <> '{\"erased\":true}'"),
        ("outbox", "UPDATE outbox SET payload = '{\"contact_id\":' || '\"' || subject || '\"' || ',\"erased\":true}' WHERE subject = ?"),
        (
            "handover_log",
            "UPDATE handover_log SET detail = '{\"erased\":true}' WHERE handover_id IN (SELECT id FROM handovers WHERE contact_id = ?) AND actor <> 'rule:routing'"
        ),
        ("handovers", "UPDATE handovers SET note = NULL WHERE contact_id = ? AND note IS NOT NULL"),
        ("writeback_outbox", "DELETE FROM writeback_outbox WHERE record_id = ?"),
        ("writeback_state", "DELETE FROM writeback_state WHERE record_id = ?"),
        ("sync_links", "DELETE FROM sync_links WHERE resource = 'contacts' AND record_id = ?"),
        ("contact_consent", "DELETE FROM contact_consent WHERE contact_id = ?"),
    ]

    static let links = "SELECT connection, object, external_id FROM sync_links WHERE resource = 'contacts' AND record_id = ? ORDER BY connection, object, external_id"

    /// The contact row's personal fields cleared and its address replaced (address, key, id).
    static let clearContact =
        "UPDATE contacts SET email = ?, email_key = ?, " + Erasure.personalContactFields.map { "\($0) = NULL" }.joined(separator: ", ") + " WHERE id = ?"

    static let touchpointProperties = "SELECT id, properties FROM touchpoints WHERE contact_id = ? AND properties IS NOT NULL"
    static let setProperties = "UPDATE touchpoints SET properties = ? WHERE contact_id = ? AND id = ?"

    static let insertTombstone = "INSERT INTO erasures (contact_id, email_hash, erased_at, actor, reason) VALUES (?, ?, ?, ?, ?)"
    static let tombstone = "SELECT contact_id, erased_at, actor, reason FROM erasures WHERE contact_id = ?"
    static let tombstones = "SELECT contact_id, erased_at, actor, reason FROM erasures ORDER BY erased_at DESC, contact_id LIMIT ?"
    static let match = "SELECT contact_id, erased_contact_id, erased_at FROM erasure_matches WHERE contact_id = ?"
    static let matches = "SELECT contact_id, erased_contact_id, erased_at FROM erasure_matches ORDER BY erased_at DESC, contact_id LIMIT ?"
    static let byEmailKey = "SELECT id FROM contacts WHERE email_key = ? ORDER BY created_at, id LIMIT 1"

    /// What `export-person` holds beside the contact record: each section's columns and its
    /// query (every `?` is the contact id).
    static let personQueries: [(name: String, columns: [String], sql: String)] = [
        (
            "touchpoints", ["id", "occurred_at", "type", "channel", "campaign_id", "content_id", "actor_id", "properties"],
            "SELECT id, occurred_at, type, channel, campaign_id, content_id, actor_id, properties FROM touchpoints WHERE contact_id = ? ORDER BY occurred_at, id"
        ),
        ("deal_roles", ["opportunity_id", "role"], "SELECT opportunity_id, role FROM opportunity_contacts WHERE contact_id = ? ORDER BY opportunity_id"),
        ("primary_contact_of", ["opportunity_id", "name", "stage"], "SELECT id, name, stage FROM opportunities WHERE primary_contact_id = ? ORDER BY id"),
        (
            "score", ["model_version", "fit", "grade", "engagement", "persona_id"],
            "SELECT version, fit, grade, engagement, persona_id FROM contact_scores WHERE contact_id = ?"
        ),
        (
            "score_history", ["at", "model_version", "fit", "grade", "engagement", "event"],
            "SELECT at, version, fit, grade, engagement, event FROM score_history WHERE contact_id = ? ORDER BY at"
        ),
        (
            "lifecycle_transitions", ["at", "from_stage", "to_stage", "actor", "reason"],
            "SELECT at, from_stage, to_stage, actor, reason FROM lifecycle_transitions WHERE contact_id = ? ORDER BY seq"
        ),
        (
            "handovers", ["id", "status", "owner_id", "queue", "team", "created_at", "assigned_at", "answered_at", "closed_at", "reason", "note"],
            "SELECT id, status, owner_id, queue, team, created_at, assigned_at, answered_at, closed_at, reason, note FROM handovers WHERE contact_id = ? ORDER BY id"
        ),
        (
            "handover_log", ["handover_id", "at", "actor", "action", "detail"],
            "SELECT l.handover_id, l.at, l.actor, l.action, l.detail FROM handover_log l JOIN handovers h ON h.id = l.handover_id WHERE h.contact_id = ? ORDER BY l.seq"
        ),
        (
            "lead_ratings", ["handover_id", "rating", "reason", "rated_by", "rated_at"],
            "SELECT handover_id, rating, reason, rated_by, rated_at FROM lead_ratings WHERE contact_id = ? ORDER BY rated_at"
        ),
        ("merged_records", ["removed_id", "at", "actor"], "SELECT removed_id, at, actor FROM contact_merges WHERE kept_id = ? ORDER BY at, removed_id"),
        (
            "vendor_links", ["connection", "object", "external_id", "synced_at"],
            "SELECT connection, object, external_id, synced_at FROM sync_links WHERE resource = 'contacts' AND record_id = ? ORDER BY connection, object, external_id"
        ),
        ("events", ["seq", "type", "at", "payload"], "SELECT seq, type, at, payload FROM outbox WHERE subject = ? ORDER BY seq"),
        ("consent", ["status", "source", "at"], "SELECT status, source, at FROM contact_consent WHERE contact_id = ?"),
        (
            "audit_log", ["at", "actor", "action", "detail"],
            "SELECT at, actor, action, detail FROM audit_log WHERE resource = 'contacts' AND record_id = ? ORDER BY seq"
        ),
    ]

    /// A stored value as export JSON: instants (columns `at`, `*_at`) in ISO 8601, JSON text
    /// (properties, payloads, details) as JSON, the rest as stored.
    static func exportValue(column: String, int: Int64?, double: Double?, text: String?) -> JSONValue {
        if let int {
            if column == "at" || column.hasSuffix("_at") { return .string(Timestamp(milliseconds: int).iso8601) }
            return .number(Double(int))
        }
        if let double { return .number(double) }
        guard let text else { return .null }
        if ["properties", "payload", "detail"].contains(column), let data = text.data(using: .utf8),
            let v = try? JSONDecoder().decode(JSONValue.self, from: data)
        {
            return v
        }
        return .string(text)
    }

    static let alreadyErased = "this contact was erased; nothing is left to erase"
}
