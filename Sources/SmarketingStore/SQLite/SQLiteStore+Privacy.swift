import Foundation
import GRDB
import SmarketingCore

extension SQLiteStore {
    /// Tombstones and the contacts created with an erased address (migration v17). The trigger
    /// flags a new contact (or one given a new address) whose address an erased person had; it
    /// hashes with `smk_sha256`, which every connection is given (`SQLiteStore.init`).
    static let privacySchema = """
        CREATE TABLE erasures (
            contact_id TEXT PRIMARY KEY NOT NULL, email_hash TEXT NOT NULL, erased_at INTEGER NOT NULL, actor TEXT NOT NULL,
            reason TEXT NOT NULL) WITHOUT ROWID;
        CREATE INDEX erasures_hash ON erasures(email_hash);
        CREATE TABLE erasure_matches (
            contact_id TEXT PRIMARY KEY NOT NULL, erased_contact_id TEXT NOT NULL, erased_at INTEGER NOT NULL) WITHOUT ROWID;
        CREATE TRIGGER contacts_erased_insert AFTER INSERT ON contacts WHEN EXISTS (SELECT 1 FROM erasures) BEGIN
          INSERT OR IGNORE INTO erasure_matches (contact_id, erased_contact_id, erased_at)
            SELECT new.id, e.contact_id, e.erased_at FROM erasures e
            WHERE e.email_hash = smk_sha256(new.email_key) AND e.contact_id <> new.id ORDER BY e.erased_at DESC LIMIT 1;
        END;
        CREATE TRIGGER contacts_erased_update AFTER UPDATE OF email_key ON contacts WHEN EXISTS (SELECT 1 FROM erasures) BEGIN
          INSERT OR IGNORE INTO erasure_matches (contact_id, erased_contact_id, erased_at)
            SELECT new.id, e.contact_id, e.erased_at FROM erasures e
            WHERE e.email_hash = smk_sha256(new.email_key) AND e.contact_id <> new.id ORDER BY e.erased_at DESC LIMIT 1;
        END;
        """

    /// Subscription status per contact (migration v18), set by every `unsubscribe`/`subscribe`
    /// touch however it arrives (events, bundles, syncs): the later statement stands.
    static let consentSchema = """
        CREATE TABLE contact_consent (
            contact_id TEXT PRIMARY KEY NOT NULL, status TEXT NOT NULL, source TEXT NOT NULL, at INTEGER NOT NULL) WITHOUT ROWID;
        CREATE INDEX contact_consent_status ON contact_consent(status, contact_id);
        CREATE TRIGGER touchpoints_consent AFTER INSERT ON touchpoints WHEN new.type IN ('unsubscribe', 'subscribe') BEGIN
          INSERT INTO contact_consent (contact_id, status, source, at)
            VALUES (new.contact_id, CASE new.type WHEN 'unsubscribe' THEN 'unsubscribed' ELSE 'subscribed' END, 'event:' || new.id, new.occurred_at)
          ON CONFLICT (contact_id) DO UPDATE SET status = excluded.status, source = excluded.source, at = excluded.at
          WHERE excluded.at >= contact_consent.at;
        END;
        INSERT INTO contact_consent (contact_id, status, source, at)
          SELECT t.contact_id, CASE t.type WHEN 'unsubscribe' THEN 'unsubscribed' ELSE 'subscribed' END, 'event:' || t.id, t.occurred_at
          FROM touchpoints t WHERE t.type IN ('unsubscribe', 'subscribe')
            AND NOT EXISTS (SELECT 1 FROM touchpoints u WHERE u.contact_id = t.contact_id AND u.type IN ('unsubscribe', 'subscribe')
                            AND (u.occurred_at > t.occurred_at OR (u.occurred_at = t.occurred_at AND u.id > t.id)));
        """

    public func consent(contactID: String) async throws -> ContactConsent? {
        try await pool.read { db in
            guard try Self.fetch(db, .contacts, id: contactID) != nil else { throw StoreError.notFound(.contacts, contactID) }
            return try Row.fetchOne(db, sql: ConsentRules.one, arguments: [contactID]).flatMap(Self.consentRow)
        }
    }

    public func setConsent(contactID: String, status: SubscriptionStatus, source: String, actor: Actor, at: Timestamp) async throws -> ContactConsent {
        try await writeRefreshingKPIs { db in
            guard try Self.fetch(db, .contacts, id: contactID) != nil else { throw StoreError.notFound(.contacts, contactID) }
            try db.execute(sql: ConsentRules.upsert, arguments: [contactID, status.rawValue, source, at.milliseconds])
            try Self.audit(db, actor, at, "consent", "contacts", contactID, StoredJSON.encode(["status": status.rawValue, "source": source]))
            guard let stored = try Row.fetchOne(db, sql: ConsentRules.one, arguments: [contactID]).flatMap(Self.consentRow) else {
                throw StoreError.missing("the consent of \(contactID) vanished")
            }
            return stored
        }
    }

    public func consents(status: SubscriptionStatus?, after: String?, limit: Int) async throws -> [ContactConsent] {
        try await pool.read { db in
            var args: [any DatabaseValueConvertible] = [after ?? ""]
            if let status { args.append(status.rawValue) }
            args.append(max(1, min(limit, 10_000)))
            return try Row.fetchAll(db, sql: ConsentRules.list(filtered: status != nil), arguments: StatementArguments(args)).compactMap(Self.consentRow)
        }
    }

    public func retentionCandidates(before: Timestamp, after: String?, limit: Int) async throws -> [(contactID: String, lastActivity: Timestamp)] {
        try await pool.read { db in
            let ms = before.milliseconds
            return try Row.fetchAll(
                db, sql: RetentionRules.candidates(greatest: "max"), arguments: [ms, ms, ms, ms, ms, after ?? "", max(1, min(limit, 10_000))]
            ).map { (contactID: $0[0], lastActivity: Timestamp(milliseconds: $0[1])) }
        }
    }

    static func consentRow(_ row: Row) -> ContactConsent? {
        guard let status = SubscriptionStatus(rawValue: row[1]) else { return nil }
        return ContactConsent(contactID: row[0], status: status, source: row[2], at: Timestamp(milliseconds: row[3]))
    }

    /// SHA-256 (hex) of a text, for the tombstone trigger.
    static let sha256Function = DatabaseFunction("smk_sha256", argumentCount: 1, pure: true) { values in
        guard let text = String.fromDatabaseValue(values[0]) else { return nil }
        return PrivacyRules.emailHash(text)
    }

    public func eraseContact(id: String, reason: String, actor: Actor, at: Timestamp) async throws -> ErasureReport {
        let reason = try Erasure.reason(reason).mapError { StoreError.invalid($0.description) }.get()
        let report: ErasureReport = try await pool.writeWithoutTransaction { db in
            // Deleted and overwritten content is zeroed in the file, not left in free space.
            try db.execute(sql: "PRAGMA secure_delete = ON")
            defer { try? db.execute(sql: "PRAGMA secure_delete = FAST") }
            var result: ErasureReport?
            try db.inTransaction {
                result = try self.erase(db, id: id, reason: reason, actor: actor, at: at)
                try self.refreshKPIs(db)
                return .commit
            }
            guard let result else { throw StoreError.missing("the erasure wrote no report") }
            return result
        }
        // The WAL still holds the pages as they were before: copy it into the file and empty it.
        try await truncateWAL()
        return report
    }

    /// Empties the WAL after the main file has every page (retried while readers hold older pages).
    func truncateWAL() async throws {
        for attempt in 0..<50 {
            let done = try await pool.writeWithoutTransaction { db -> Bool in
                let (_, log, copied) = try Self.checkpointCounts(db)
                return log == 0 || log == copied
            }
            if done { return }
            try await Task.sleep(for: .milliseconds(20 * (attempt + 1)))
        }
    }

    private static func checkpointCounts(_ db: Database) throws -> (Int, Int, Int) {
        guard let row = try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)") else { return (0, 0, 0) }
        let busy: Int = row[0]
        let log: Int = row[1]
        let copied: Int = row[2]
        return busy != 0 ? (busy, max(log, 1), -1) : (busy, log, copied)
    }

    private func erase(_ db: Database, id: String, reason: String, actor: Actor, at: Timestamp) throws -> ErasureReport {
        guard let contact = try Self.fetch(db, .contacts, id: id) else { throw StoreError.notFound(.contacts, id) }
        if try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM erasures WHERE contact_id = ?)", arguments: [id]) == true {
            throw StoreError.conflict(PrivacyRules.alreadyErased)
        }
        let email = contact["email"].text ?? ""
        let key = EmailAddress.key(email) ?? email.lowercased()
        let (everywhere, own) = Erasure.searchTexts(email: email, firstName: contact["first_name"].text, lastName: contact["last_name"].text)
        var changed: [String: Int] = [:]
        func count(_ table: String, _ n: Int) { if n > 0 { changed[table, default: 0] += n } }

        let links = try Row.fetchAll(db, sql: PrivacyRules.links, arguments: [id]).map {
            VendorLink(connection: $0[0], object: $0[1], externalID: $0[2])
        }
        try db.execute(sql: PrivacyRules.insertTombstone, arguments: [id, PrivacyRules.emailHash(key), at.milliseconds, actor.userID, reason])
        let placeholder = Erasure.placeholderEmail(contactID: id)
        try db.execute(sql: PrivacyRules.clearContact, arguments: [placeholder, placeholder, id])
        count("contacts", db.changesCount)
        for row in try Row.fetchAll(db, sql: PrivacyRules.touchpointProperties, arguments: [id]) {
            let tid: String = row[0]
            let old: String? = row[1]
            let kept = Erasure.keptProperties(old, identifying: own)
            if kept != old {
                try db.execute(sql: PrivacyRules.setProperties, arguments: [kept, id, tid])
                count("touchpoints", 1)
            }
        }
        for (table, sql) in PrivacyRules.ownRows {
            try db.execute(sql: sql, arguments: [id])
            count(table, db.changesCount)
        }
        let patterns = everywhere.map(Erasure.containsPattern)
        for c in PrivacyRules.freeText {
            let args = StatementArguments(patterns)
            guard let key = c.key else {
                try db.execute(sql: PrivacyRules.matching(c, patterns: patterns.count), arguments: args)
                count(c.table, db.changesCount)
                continue
            }
            for row in try Row.fetchAll(db, sql: PrivacyRules.matching(c, patterns: patterns.count), arguments: args) {
                let text: String = row[1]
                guard let scrubbed = Erasure.scrubbed(text, everywhere) else { continue }
                try db.execute(sql: "UPDATE \(c.table) SET \(c.column) = ? WHERE \(key) = ?", arguments: [scrubbed, row[0]])
                count(c.table, 1)
            }
        }
        // Nothing of the old address stays in the search index's documents.
        try Self.audit(db, actor, at, "erase", "contacts", id, StoredJSON.encode(["reason": reason, "changed": changed]))
        return ErasureReport(contactID: id, erasedAt: at, reason: reason, changed: changed, vendorLinks: links)
    }

    public func personData(contactID: String) async throws -> PersonData? {
        try await pool.read { db in
            guard let contact = try Self.fetch(db, .contacts, id: contactID) else { return nil }
            var sections: [(name: String, rows: [[String: JSONValue]])] = []
            for q in PrivacyRules.personQueries {
                let args = StatementArguments(Array(repeating: contactID, count: q.sql.filter { $0 == "?" }.count))
                let rows = try Row.fetchAll(db, sql: q.sql, arguments: args).map { row in
                    var o: [String: JSONValue] = [:]
                    for (i, col) in q.columns.enumerated() {
                        let v = row[i] as DatabaseValue
                        switch v.storage {
                        case .int64(let n): o[col] = PrivacyRules.exportValue(column: col, int: n, double: nil, text: nil)
                        case .double(let d): o[col] = PrivacyRules.exportValue(column: col, int: nil, double: d, text: nil)
                        case .string(let s): o[col] = PrivacyRules.exportValue(column: col, int: nil, double: nil, text: s)
                        case .null, .blob: o[col] = .null
                        }
                    }
                    return o
                }
                sections.append((q.name, rows))
            }
            let tomb = try Row.fetchOne(db, sql: PrivacyRules.tombstone, arguments: [contactID]).map(Self.tombstoneRow)
            let match = try Row.fetchOne(db, sql: PrivacyRules.match, arguments: [contactID]).map(Self.matchRow)
            return PersonData(contact: contact, sections: sections, tombstone: tomb, match: match)
        }
    }

    public func tombstones(limit: Int) async throws -> [Tombstone] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: PrivacyRules.tombstones, arguments: [max(1, min(limit, 10_000))]).map(Self.tombstoneRow)
        }
    }

    public func erasureMatches(limit: Int) async throws -> [ErasureMatch] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: PrivacyRules.matches, arguments: [max(1, min(limit, 10_000))]).map(Self.matchRow)
        }
    }

    public func contactID(emailKey: String) async throws -> String? {
        try await pool.read { db in try String.fetchOne(db, sql: PrivacyRules.byEmailKey, arguments: [emailKey]) }
    }

    static func tombstoneRow(_ row: Row) -> Tombstone {
        Tombstone(contactID: row[0], erasedAt: Timestamp(milliseconds: row[1]), actor: row[2], reason: row[3])
    }

    static func matchRow(_ row: Row) -> ErasureMatch {
        ErasureMatch(contactID: row[0], erasedContactID: row[1], erasedAt: Timestamp(milliseconds: row[2]))
    }
}
