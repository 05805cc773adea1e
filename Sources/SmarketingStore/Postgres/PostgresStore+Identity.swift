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
    /// instances merging overlapping pairs cannot deadlock each other. Everything that moves goes
    /// in one statement (data-modifying CTEs; each touches other rows, so none depends on
    /// another's effect): a merge is four round trips, not sixteen.
    @discardableResult
    func mergeContacts(_ c: PGConn, keep keepID: String, duplicate duplicateID: String, actor: Actor, at: Timestamp, reason: String?) async throws -> Record {
        let rows = try await c.rows(
            "SELECT \(Self.columns(.contacts)) FROM contacts WHERE id IN (?, ?) ORDER BY id FOR UPDATE",
            [.text(keepID), .text(duplicateID)]
        ).map { Self.record(.contacts, $0) }
        guard var keep = rows.first(where: { $0.id == keepID }) else { throw StoreError.notFound(.contacts, keepID) }
        guard let dup = rows.first(where: { $0.id == duplicateID }) else { throw StoreError.notFound(.contacts, duplicateID) }
        keep.values = ContactMerge.merge(keep: keep.values, duplicate: dup.values)
        let roles = try await Self.moveRoles(c, from: duplicateID, to: keepID)
        let cols = Self.insertColumns(.contacts).filter { $0 != "id" }
        var args = Self.insertArguments(keep)
        if let idIndex = Resource.contacts.schema.index["id"] { args.remove(at: idIndex) }
        // $1 the duplicate, $2 the kept contact, $3 the time, $4 the actor, then the kept values.
        let sets = cols.enumerated().map { "\($0.element) = $\($0.offset + 5)" }.joined(separator: ", ")
        let moved = try await c.one(
            """
            WITH t AS (UPDATE touchpoints SET contact_id = $2 WHERE contact_id = $1 RETURNING 1),
                 o AS (UPDATE opportunities SET primary_contact_id = $2 WHERE primary_contact_id = $1 RETURNING 1),
                 gone AS (DELETE FROM contacts WHERE id = $1),
                 kept AS (UPDATE contacts SET \(sets) WHERE id = $2),
                 m1 AS (INSERT INTO contact_merges(removed_id, kept_id, at, actor) VALUES ($1, $2, $3, $4)
                        ON CONFLICT (removed_id) DO UPDATE SET kept_id = excluded.kept_id, at = excluded.at, actor = excluded.actor),
                 m2 AS (UPDATE contact_merges SET kept_id = $2 WHERE kept_id = $1 AND removed_id <> $2),
                 m3 AS (DELETE FROM contact_merges WHERE (kept_id = $1 AND removed_id = $2) OR (removed_id = $2 AND kept_id = $2)),
                 s AS (UPDATE sync_links SET record_id = $2 WHERE resource = 'contacts' AND record_id = $1),
                 l AS (UPDATE lifecycle_transitions SET contact_id = $2 WHERE contact_id = $1),
                 h AS (UPDATE score_history SET contact_id = $2 WHERE contact_id = $1),
                 x AS (DELETE FROM contact_scores WHERE contact_id = $1)
            SELECT (SELECT count(*) FROM t), (SELECT count(*) FROM o)
            """,
            [.text(duplicateID), .text(keepID), .int(at.milliseconds), .text(actor.userID)] + args
        )
        // The later subscription statement of the two stands.
        try await c.execute(ConsentRules.merge, [.text(keepID), .text(duplicateID)])
        try await c.execute(ConsentRules.removeMerged, [.text(duplicateID)])
        // The score is rebuilt from the joined touches.
        try await rescoreAfterEdit(c, contacts: [keepID], at: at, event: "merge")
        let movedJSON = "{\"touchpoints\":\(moved?.int(0) ?? 0),\"opportunities\":\(moved?.int(1) ?? 0),\"opportunity_contacts\":\(roles)}"
        let why = reason.map { ",\"reason\":" + JSONValue.string($0).compactText } ?? ""
        try await Self.audit(c, actor, at, "merge", "contacts", keepID, "{\"merged\":\(RecordRules.auditJSON(dup)),\"moved\":\(movedJSON)\(why)}")
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

    /// Moves the duplicate's deal roles to the kept contact (a role row moves unless the kept
    /// contact already has one on that deal); returns how many.
    static func moveRoles(_ c: PGConn, from: String, to: String) async throws -> Int {
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
        return roles.count
    }
}
