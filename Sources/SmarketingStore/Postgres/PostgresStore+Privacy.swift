import Foundation
import SmarketingCore

extension PostgresStore {
    /// Tombstones and the contacts created with an erased address (migration 13). The triggers
    /// run once per statement over its new rows (a bulk load of a million contacts pays one
    /// `EXISTS` on an empty table, not a million function calls).
    static let privacySchema = """
        CREATE TABLE erasures (
            contact_id TEXT COLLATE "C" PRIMARY KEY NOT NULL, email_hash TEXT COLLATE "C" NOT NULL, erased_at BIGINT NOT NULL,
            actor TEXT COLLATE "C" NOT NULL, reason TEXT NOT NULL);
        CREATE INDEX erasures_hash ON erasures(email_hash);
        CREATE TABLE erasure_matches (
            contact_id TEXT COLLATE "C" PRIMARY KEY NOT NULL, erased_contact_id TEXT COLLATE "C" NOT NULL, erased_at BIGINT NOT NULL);
        CREATE FUNCTION contacts_erased_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF EXISTS (SELECT 1 FROM erasures) THEN
            INSERT INTO erasure_matches (contact_id, erased_contact_id, erased_at)
              SELECT DISTINCT ON (n.id) n.id, e.contact_id, e.erased_at FROM new_rows n
              JOIN erasures e ON e.email_hash = encode(sha256(convert_to(n.email_key, 'UTF8')), 'hex') AND e.contact_id <> n.id
              ORDER BY n.id, e.erased_at DESC
            ON CONFLICT (contact_id) DO NOTHING;
          END IF;
          RETURN NULL;
        END $$;
        CREATE FUNCTION contacts_erased_updated() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF EXISTS (SELECT 1 FROM erasures) THEN
            INSERT INTO erasure_matches (contact_id, erased_contact_id, erased_at)
              SELECT DISTINCT ON (n.id) n.id, e.contact_id, e.erased_at FROM new_rows n
              JOIN old_rows o ON o.id = n.id AND o.email_key IS DISTINCT FROM n.email_key
              JOIN erasures e ON e.email_hash = encode(sha256(convert_to(n.email_key, 'UTF8')), 'hex') AND e.contact_id <> n.id
              ORDER BY n.id, e.erased_at DESC
            ON CONFLICT (contact_id) DO NOTHING;
          END IF;
          RETURN NULL;
        END $$;
        CREATE TRIGGER contacts_erased_insert AFTER INSERT ON contacts REFERENCING NEW TABLE AS new_rows
          FOR EACH STATEMENT EXECUTE FUNCTION contacts_erased_inserted();
        CREATE TRIGGER contacts_erased_update AFTER UPDATE ON contacts REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
          FOR EACH STATEMENT EXECUTE FUNCTION contacts_erased_updated();
        """

    /// Subscription status per contact (migration 14): a row trigger on the touchpoints whose
    /// WHEN clause lets only `unsubscribe`/`subscribe` touches call it (a bulk load pays nothing).
    static let consentSchema = """
        CREATE TABLE contact_consent (
            contact_id TEXT COLLATE "C" PRIMARY KEY NOT NULL, status TEXT COLLATE "C" NOT NULL, source TEXT NOT NULL, at BIGINT NOT NULL);
        CREATE INDEX contact_consent_status ON contact_consent(status, contact_id);
        CREATE FUNCTION touchpoints_consent() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          INSERT INTO contact_consent (contact_id, status, source, at)
            VALUES (NEW.contact_id, CASE NEW.type WHEN 'unsubscribe' THEN 'unsubscribed' ELSE 'subscribed' END, 'event:' || NEW.id, NEW.occurred_at)
          ON CONFLICT (contact_id) DO UPDATE SET status = excluded.status, source = excluded.source, at = excluded.at
          WHERE excluded.at >= contact_consent.at;
          RETURN NULL;
        END $$;
        CREATE TRIGGER touchpoints_consent AFTER INSERT ON touchpoints FOR EACH ROW
          WHEN (NEW.type IN ('unsubscribe', 'subscribe')) EXECUTE FUNCTION touchpoints_consent();
        INSERT INTO contact_consent (contact_id, status, source, at)
          SELECT DISTINCT ON (contact_id) contact_id, CASE type WHEN 'unsubscribe' THEN 'unsubscribed' ELSE 'subscribed' END, 'event:' || id, occurred_at
          FROM touchpoints WHERE type IN ('unsubscribe', 'subscribe') ORDER BY contact_id, occurred_at DESC, id DESC;
        """

    public func consent(contactID: String) async throws -> ContactConsent? {
        try await read { c in
            guard try await Self.exists(c, .contacts, id: contactID) else { throw StoreError.notFound(.contacts, contactID) }
            return try await c.one(ConsentRules.one, [.text(contactID)]).flatMap(Self.consentRow)
        }
    }

    public func setConsent(contactID: String, status: SubscriptionStatus, source: String, actor: Actor, at: Timestamp) async throws -> ContactConsent {
        try await write { c in
            guard try await Self.fetch(c, .contacts, id: contactID, lock: true) != nil else { throw StoreError.notFound(.contacts, contactID) }
            try await c.execute(ConsentRules.upsert, [.text(contactID), .text(status.rawValue), .text(source), .int(at.milliseconds)])
            try await Self.audit(c, actor, at, "consent", "contacts", contactID, StoredJSON.encode(["status": status.rawValue, "source": source]))
            guard let stored = try await c.one(ConsentRules.one, [.text(contactID)]).flatMap(Self.consentRow) else {
                throw StoreError.missing("the consent of \(contactID) vanished")
            }
            return stored
        }
    }

    public func consents(status: SubscriptionStatus?, after: String?, limit: Int) async throws -> [ContactConsent] {
        try await read { c in
            var args: [PGValue] = [.text(after ?? "")]
            if let status { args.append(.text(status.rawValue)) }
            args.append(.int(Int64(max(1, min(limit, 10_000)))))
            return try await c.rows(ConsentRules.list(filtered: status != nil), args).compactMap(Self.consentRow)
        }
    }

    public func retentionCandidates(before: Timestamp, after: String?, limit: Int) async throws -> [(contactID: String, lastActivity: Timestamp)] {
        try await read { c in
            let ms = PGValue.int(before.milliseconds)
            return try await c.rows(
                RetentionRules.candidates(greatest: "greatest"), [ms, ms, ms, ms, ms, .text(after ?? ""), .int(Int64(max(1, min(limit, 10_000))))]
            ).map { (contactID: $0.text(0) ?? "", lastActivity: Timestamp(milliseconds: $0.int(1) ?? 0)) }
        }
    }

    static func consentRow(_ row: PGRow) -> ContactConsent? {
        guard let id = row.text(0), let status = row.text(1).flatMap(SubscriptionStatus.init(rawValue:)), let at = row.int(3) else { return nil }
        return ContactConsent(contactID: id, status: status, source: row.text(2) ?? "", at: Timestamp(milliseconds: at))
    }

    public func eraseContact(id: String, reason: String, actor: Actor, at: Timestamp) async throws -> ErasureReport {
        let reason = try Erasure.reason(reason).mapError { StoreError.invalid($0.description) }.get()
        return try await write { c in
            guard let contact = try await Self.fetch(c, .contacts, id: id, lock: true) else { throw StoreError.notFound(.contacts, id) }
            if try await c.one("SELECT 1 FROM erasures WHERE contact_id = ?", [.text(id)]) != nil {
                throw StoreError.conflict(PrivacyRules.alreadyErased)
            }
            let email = contact["email"].text ?? ""
            let key = EmailAddress.key(email) ?? email.lowercased()
            let (everywhere, own) = Erasure.searchTexts(email: email, firstName: contact["first_name"].text, lastName: contact["last_name"].text)
            var changed: [String: Int] = [:]
            func count(_ table: String, _ n: Int) { if n > 0 { changed[table, default: 0] += n } }

            let links = try await c.rows(PrivacyRules.links, [.text(id)]).map {
                VendorLink(connection: $0.text(0) ?? "", object: $0.text(1) ?? "", externalID: $0.text(2) ?? "")
            }
            try await c.execute(
                PrivacyRules.insertTombstone,
                [.text(id), .text(PrivacyRules.emailHash(key)), .int(at.milliseconds), .text(actor.userID), .text(reason)]
            )
            let placeholder = Erasure.placeholderEmail(contactID: id)
            count("contacts", try await c.execute(PrivacyRules.clearContact + " RETURNING 1", [.text(placeholder), .text(placeholder), .text(id)]))
            for row in try await c.rows(PrivacyRules.touchpointProperties, [.text(id)]) {
                let old = row.text(1)
                let kept = Erasure.keptProperties(old, identifying: own)
                if kept != old {
                    try await c.execute(PrivacyRules.setProperties, [kept.map(PGValue.text) ?? .null, .text(id), .text(row.text(0) ?? "")])
                    count("touchpoints", 1)
                }
            }
            for (table, sql) in PrivacyRules.ownRows {
                count(table, try await c.execute(sql + " RETURNING 1", [.text(id)]))
            }
            let patterns = everywhere.map { PGValue.text(Erasure.containsPattern($0)) }
            for col in PrivacyRules.freeText {
                guard let key = col.key else {
                    count(col.table, try await c.execute(PrivacyRules.matching(col, patterns: patterns.count) + " RETURNING 1", patterns))
                    continue
                }
                for row in try await c.rows(PrivacyRules.matching(col, patterns: patterns.count), patterns) {
                    guard let text = row.text(1), let scrubbed = Erasure.scrubbed(text, everywhere) else { continue }
                    try await c.execute("UPDATE \(col.table) SET \(col.column) = ? WHERE \(key) = ?", [.text(scrubbed), row[0]])
                    count(col.table, 1)
                }
            }
            try await Self.audit(c, actor, at, "erase", "contacts", id, StoredJSON.encode(["reason": reason, "changed": changed]))
            return ErasureReport(contactID: id, erasedAt: at, reason: reason, changed: changed, vendorLinks: links)
        }
    }

    public func personData(contactID: String) async throws -> PersonData? {
        try await read { c in
            guard let contact = try await Self.fetch(c, .contacts, id: contactID) else { return nil }
            var sections: [(name: String, rows: [[String: JSONValue]])] = []
            for q in PrivacyRules.personQueries {
                let args = Array(repeating: PGValue.text(contactID), count: q.sql.filter { $0 == "?" }.count)
                let rows = try await c.rows(q.sql, args).map { row in
                    var o: [String: JSONValue] = [:]
                    for (i, col) in q.columns.enumerated() {
                        switch row[i] {
                        case .int(let n): o[col] = PrivacyRules.exportValue(column: col, int: n, double: nil, text: nil)
                        case .double(let d): o[col] = PrivacyRules.exportValue(column: col, int: nil, double: d, text: nil)
                        case .text(let s): o[col] = PrivacyRules.exportValue(column: col, int: nil, double: nil, text: s)
                        default: o[col] = .null
                        }
                    }
                    return o
                }
                sections.append((q.name, rows))
            }
            let tomb = try await c.one(PrivacyRules.tombstone, [.text(contactID)]).map(Self.tombstoneRow)
            let match = try await c.one(PrivacyRules.match, [.text(contactID)]).map(Self.matchRow)
            return PersonData(contact: contact, sections: sections, tombstone: tomb, match: match)
        }
    }

    public func tombstones(limit: Int) async throws -> [Tombstone] {
        try await read { c in try await c.rows(PrivacyRules.tombstones, [.int(Int64(max(1, min(limit, 10_000))))]).map(Self.tombstoneRow) }
    }

    public func erasureMatches(limit: Int) async throws -> [ErasureMatch] {
        try await read { c in try await c.rows(PrivacyRules.matches, [.int(Int64(max(1, min(limit, 10_000))))]).map(Self.matchRow) }
    }

    public func contactID(emailKey: String) async throws -> String? {
        try await read { c in try await c.one(PrivacyRules.byEmailKey, [.text(emailKey)])?.text(0) }
    }

    static func tombstoneRow(_ row: PGRow) -> Tombstone {
        Tombstone(contactID: row.text(0) ?? "", erasedAt: Timestamp(milliseconds: row.int(1) ?? 0), actor: row.text(2) ?? "", reason: row.text(3) ?? "")
    }

    static func matchRow(_ row: PGRow) -> ErasureMatch {
        ErasureMatch(contactID: row.text(0) ?? "", erasedContactID: row.text(1) ?? "", erasedAt: Timestamp(milliseconds: row.int(2) ?? 0))
    }
}
