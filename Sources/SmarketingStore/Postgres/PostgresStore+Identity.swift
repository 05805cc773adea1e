import Foundation
import SmarketingCore

extension PostgresStore: IdentityStore {
    public func duplicateContacts(limit: Int) async throws -> [DuplicateCandidate] {
        let limit = max(0, min(limit, 100_000))
        return try await read { c in
            var out: [DuplicateCandidate] = []
            var seen: Set<String> = []
            func add(_ ids: [String], _ reason: String) {
                guard let keep = ids.first else { return }
                for d in ids.dropFirst() where out.count < limit && seen.insert(keep + "|" + d).inserted {
                    out.append(DuplicateCandidate(keepID: keep, duplicateID: d, reason: reason))
                }
            }
            // The first id of each group is the record to keep (earliest created, then the smaller id).
            let sameEmail = try await c.rows(
                """
                SELECT email_key, string_agg(id, chr(31) ORDER BY created_at, id) FROM contacts
                WHERE email_key IN (SELECT email_key FROM contacts GROUP BY email_key HAVING count(*) > 1)
                GROUP BY email_key ORDER BY email_key LIMIT ?
                """,
                [.int(Int64(limit))]
            )
            for row in sameEmail {
                add((row.text(1) ?? "").split(separator: "\u{1F}").map(String.init), "same email \(row.text(0) ?? "")")
            }
            let sameName = try await c.rows(
                """
                SELECT lower(first_name) || ' ' || lower(last_name), account_id,
                       string_agg(id, chr(31) ORDER BY created_at, id) FROM contacts
                WHERE first_name IS NOT NULL AND last_name IS NOT NULL AND account_id IS NOT NULL
                GROUP BY lower(first_name), lower(last_name), account_id HAVING count(*) > 1
                ORDER BY 1, 2 LIMIT ?
                """,
                [.int(Int64(limit))]
            )
            for row in sameName {
                add(
                    (row.text(2) ?? "").split(separator: "\u{1F}").map(String.init),
                    "same name \"\(row.text(0) ?? "")\" at account \(row.text(1) ?? "")"
                )
            }
            return out
        }
    }

    public func mergeHistory() async throws -> [MergeEntry] {
        try await read { c in
            try await c.rows("SELECT removed_id, kept_id, at, actor FROM contact_merges ORDER BY at, removed_id").map {
                MergeEntry(removedID: $0.text(0) ?? "", keptID: $0.text(1) ?? "", at: Timestamp(milliseconds: $0.int(2) ?? 0), actor: $0.text(3) ?? "")
            }
        }
    }

    public func addMergeHistory(_ entries: [MergeEntry]) async throws {
        guard !entries.isEmpty else { return }
        try await write { c in
            for e in entries {
                try await c.execute(
                    "INSERT INTO contact_merges(removed_id, kept_id, at, actor) VALUES (?, ?, ?, ?) ON CONFLICT (removed_id) DO NOTHING",
                    [.text(e.removedID), .text(e.keptID), .int(e.at.milliseconds), .text(e.actor)]
                )
            }
        }
    }

    public func mergeContacts(keep keepID: String, duplicate duplicateID: String, actor: Actor, at: Timestamp) async throws -> Record {
        guard keepID != duplicateID else { throw StoreError.conflict("a contact cannot be merged into itself") }
        return try await write { c in try await self.mergeContacts(c, keep: keepID, duplicate: duplicateID, actor: actor, at: at, reason: nil) }
    }

    /// Merges inside the caller's transaction. Both rows are locked in id order first, so two
    /// instances merging overlapping pairs cannot deadlock each other.
    @discardableResult
    func mergeContacts(_ c: PGConn, keep keepID: String, duplicate duplicateID: String, actor: Actor, at: Timestamp, reason: String?) async throws -> Record {
        _ = try await c.rows("SELECT id FROM contacts WHERE id IN (?, ?) ORDER BY id FOR UPDATE", [.text(keepID), .text(duplicateID)])
        guard var keep = try await Self.fetch(c, .contacts, id: keepID) else { throw StoreError.notFound(.contacts, keepID) }
        guard let dup = try await Self.fetch(c, .contacts, id: duplicateID) else { throw StoreError.notFound(.contacts, duplicateID) }
        keep.values = ContactMerge.merge(keep: keep.values, duplicate: dup.values)
        let moved = try await Self.moveReferences(c, from: duplicateID, to: keepID)
        try await c.execute("DELETE FROM contacts WHERE id = ?", [.text(duplicateID)])
        let cols = Self.insertColumns(.contacts).filter { $0 != "id" }
        var args = Self.insertArguments(keep)
        if let idIndex = Resource.contacts.schema.index["id"] { args.remove(at: idIndex) }
        try await c.execute("UPDATE contacts SET \(cols.map { "\($0) = ?" }.joined(separator: ", ")) WHERE id = ?", args + [.text(keepID)])
        try await c.execute(
            """
            INSERT INTO contact_merges(removed_id, kept_id, at, actor) VALUES (?, ?, ?, ?)
            ON CONFLICT (removed_id) DO UPDATE SET kept_id = excluded.kept_id, at = excluded.at, actor = excluded.actor
            """,
            [.text(duplicateID), .text(keepID), .int(at.milliseconds), .text(actor.userID)]
        )
        // Earlier merges into the removed record now point at the kept one; a kept id that was
        // itself merged away before (and created again since) is live.
        try await c.execute("UPDATE contact_merges SET kept_id = ? WHERE kept_id = ?", [.text(keepID), .text(duplicateID)])
        try await c.execute("DELETE FROM contact_merges WHERE removed_id = kept_id")
        // Links to other systems follow the person; so do the stage and score histories.
        try await c.execute("UPDATE sync_links SET record_id = ? WHERE resource = 'contacts' AND record_id = ?", [.text(keepID), .text(duplicateID)])
        try await c.execute("UPDATE lifecycle_transitions SET contact_id = ? WHERE contact_id = ?", [.text(keepID), .text(duplicateID)])
        try await c.execute("UPDATE score_history SET contact_id = ? WHERE contact_id = ?", [.text(keepID), .text(duplicateID)])
        try await c.execute("DELETE FROM contact_scores WHERE contact_id = ?", [.text(duplicateID)])
        let why = reason.map { ",\"reason\":" + JSONValue.string($0).compactText } ?? ""
        try await Self.audit(c, actor, at, "merge", "contacts", keepID, "{\"merged\":\(RecordRules.auditJSON(dup)),\"moved\":\(moved)\(why)}")
        return keep
    }

    /// Merges every group of contacts sharing an email key into its earliest created member.
    func mergeSameEmail(_ c: PGConn, actor: Actor, at: Timestamp, reason: String) async throws -> Int {
        let rows = try await c.rows(
            """
            SELECT email_key, id FROM contacts
            WHERE email_key IN (SELECT email_key FROM contacts GROUP BY email_key HAVING count(*) > 1)
            ORDER BY email_key, created_at, id
            """
        )
        var merged = 0
        var keep: (key: String, id: String)?
        for row in rows {
            guard let key = row.text(0), let id = row.text(1) else { continue }
            if let k = keep, k.key == key {
                try await mergeContacts(c, keep: k.id, duplicate: id, actor: actor, at: at, reason: reason + " (same email " + key + ")")
                merged += 1
            } else {
                keep = (key, id)
            }
        }
        return merged
    }

    /// Points everything that named `from` at `to`; returns how many rows moved, by table.
    static func moveReferences(_ c: PGConn, from: String, to: String) async throws -> String {
        let touchpoints = try await c.execute("UPDATE touchpoints SET contact_id = ? WHERE contact_id = ? RETURNING 1", [.text(to), .text(from)])
        let opportunities = try await c.execute(
            "UPDATE opportunities SET primary_contact_id = ? WHERE primary_contact_id = ? RETURNING 1",
            [.text(to), .text(from)]
        )
        // Roles: the duplicate's role row moves unless the kept contact already has one on that deal.
        let roles = try await c.rows("SELECT opportunity_id, role FROM opportunity_contacts WHERE contact_id = ?", [.text(from)])
        for row in roles {
            guard let opp = row.text(0) else { continue }
            try await c.execute("DELETE FROM opportunity_contacts WHERE id = ?", [.text(opp + "|" + from)])
            try await c.execute(
                """
                INSERT INTO opportunity_contacts(id, opportunity_id, contact_id, role) VALUES (?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET role = coalesce(opportunity_contacts.role, excluded.role)
                """,
                [.text(opp + "|" + to), .text(opp), .text(to), .of(row.text(1))]
            )
        }
        return "{\"touchpoints\":\(touchpoints),\"opportunities\":\(opportunities),\"opportunity_contacts\":\(roles.count)}"
    }
}
