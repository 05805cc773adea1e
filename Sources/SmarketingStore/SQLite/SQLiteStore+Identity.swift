import GRDB
import SmarketingCore

extension SQLiteStore {
    public func duplicateContacts(limit: Int) async throws -> [DuplicateCandidate] {
        try await pool.read { db in
            var out: [DuplicateCandidate] = []
            var seen: Set<String> = []
            func add(_ ids: [String], _ reason: String) {
                guard let keep = ids.first else { return }
                for d in ids.dropFirst() where out.count < limit && seen.insert(keep + "|" + d).inserted {
                    out.append(DuplicateCandidate(keepID: keep, duplicateID: d, reason: reason))
                }
            }
            // Ordered so that the first id of each group is the record to keep (earliest created).
            let sameEmail = try Row.fetchAll(
                db,
                sql: """
                    SELECT email_key, group_concat(id, char(31)) FROM (
                        SELECT email_key, id FROM contacts
                        WHERE email_key IN (SELECT email_key FROM contacts GROUP BY email_key HAVING count(*) > 1)
                        ORDER BY email_key, created_at, id)
                    GROUP BY email_key LIMIT ?
                    """,
                arguments: [limit]
            )
            for row in sameEmail {
                let key: String = row[0]
                add((row[1] as String).split(separator: "\u{1F}").map(String.init), "same email \(key)")
            }
            let sameName = try Row.fetchAll(
                db,
                sql: """
                    SELECT lower(first_name) || ' ' || lower(last_name), account_id, group_concat(id, char(31)) FROM (
                        SELECT first_name, last_name, account_id, id FROM contacts
                        WHERE first_name IS NOT NULL AND last_name IS NOT NULL AND account_id IS NOT NULL
                          AND (lower(first_name), lower(last_name), account_id) IN (
                            SELECT lower(first_name), lower(last_name), account_id FROM contacts
                            WHERE first_name IS NOT NULL AND last_name IS NOT NULL AND account_id IS NOT NULL
                            GROUP BY 1, 2, 3 HAVING count(*) > 1)
                        ORDER BY lower(first_name), lower(last_name), account_id, created_at, id)
                    GROUP BY 1, 2 LIMIT ?
                    """,
                arguments: [limit]
            )
            for row in sameName {
                let name: String = row[0]
                let account: String = row[1]
                add((row[2] as String).split(separator: "\u{1F}").map(String.init), "same name \"\(name)\" at account \(account)")
            }
            return out
        }
    }

    public func mergeHistory() async throws -> [MergeEntry] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT removed_id, kept_id, at, actor FROM contact_merges ORDER BY at, removed_id").map {
                MergeEntry(removedID: $0[0], keptID: $0[1], at: Timestamp(milliseconds: $0[2]), actor: $0[3])
            }
        }
    }

    public func addMergeHistory(_ entries: [MergeEntry]) async throws {
        try await pool.write { db in
            for e in entries {
                try db.execute(
                    sql: "INSERT INTO contact_merges(removed_id, kept_id, at, actor) VALUES (?, ?, ?, ?) ON CONFLICT(removed_id) DO NOTHING",
                    arguments: [e.removedID, e.keptID, e.at.milliseconds, e.actor]
                )
            }
        }
    }

    public func mergeContacts(keep keepID: String, duplicate duplicateID: String, actor: Actor, at: Timestamp) async throws -> Record {
        guard keepID != duplicateID else { throw StoreError.conflict("a contact cannot be merged into itself") }
        return try await writeRefreshingKPIs { db in
            try self.mergeContacts(db, keep: keepID, duplicate: duplicateID, actor: actor, at: at, reason: nil)
        }
    }

    /// Merges inside the caller's transaction (the API's merge, the import's and the sync's
    /// automatic merges share it). `reason` is written to the audit entry when given.
    @discardableResult
    func mergeContacts(_ db: Database, keep keepID: String, duplicate duplicateID: String, actor: Actor, at: Timestamp, reason: String?) throws -> Record {
        guard var keep = try Self.fetch(db, .contacts, id: keepID) else { throw StoreError.notFound(.contacts, keepID) }
        guard let dup = try Self.fetch(db, .contacts, id: duplicateID) else { throw StoreError.notFound(.contacts, duplicateID) }
        let merged = ContactMerge.merge(keep: keep.values, duplicate: dup.values)
        keep.values = merged
        let moved = try Self.moveReferences(db, from: duplicateID, to: keepID)
        try db.execute(sql: "DELETE FROM contacts WHERE id = ?", arguments: [duplicateID])
        let cols = Self.insertColumns(.contacts).filter { $0 != "id" }
        var args = Self.insertArguments(keep)
        if let idIndex = Resource.contacts.schema.index["id"] { args.remove(at: idIndex) }
        try db.execute(
            sql: "UPDATE contacts SET \(cols.map { "\($0) = ?" }.joined(separator: ", ")) WHERE id = ?",
            arguments: StatementArguments(args + [keepID.databaseValue])
        )
        try db.execute(
            sql: "INSERT OR REPLACE INTO contact_merges(removed_id, kept_id, at, actor) VALUES (?, ?, ?, ?)",
            arguments: [duplicateID, keepID, at.milliseconds, actor.userID]
        )
        // Earlier merges into the removed record now point at the kept one.
        try db.execute(sql: "UPDATE contact_merges SET kept_id = ? WHERE kept_id = ?", arguments: [keepID, duplicateID])
        // A kept id that was itself merged away before (and created again since) is live.
        try db.execute(sql: "DELETE FROM contact_merges WHERE removed_id = kept_id")
        // Links to other systems follow the person.
        try db.execute(sql: "UPDATE sync_links SET record_id = ? WHERE resource = 'contacts' AND record_id = ?", arguments: [keepID, duplicateID])
        // The later subscription statement of the two stands.
        try db.execute(sql: ConsentRules.merge, arguments: [keepID, duplicateID])
        try db.execute(sql: ConsentRules.removeMerged, arguments: [duplicateID])
        // The duplicate's stage history joins the kept contact's; its score is rebuilt from
        // the joined touches.
        try db.execute(sql: "UPDATE lifecycle_transitions SET contact_id = ? WHERE contact_id = ?", arguments: [keepID, duplicateID])
        try db.execute(sql: "UPDATE score_history SET contact_id = ? WHERE contact_id = ?", arguments: [keepID, duplicateID])
        try db.execute(sql: "DELETE FROM contact_scores WHERE contact_id = ?", arguments: [duplicateID])
        if let scorer = try self.activeScorer(db) { try Self.rescoreContact(db, scorer, keepID, at: at, event: "merge") }
        let why = reason.map { ",\"reason\":" + JSONValue.string($0).compactText } ?? ""
        try Self.audit(
            db,
            actor,
            at,
            "merge",
            "contacts",
            keepID,
            "{\"merged\":\(Self.auditJSON(dup)),\"moved\":\(moved)\(why)}"
        )
        return keep
    }

    /// Merges every group of contacts that share an email key into its earliest created member
    /// (ties: the smaller id), as docs/IDENTITY.md says. Returns how many were merged away.
    func mergeSameEmail(_ db: Database, actor: Actor, at: Timestamp, reason: String) throws -> Int {
        let rows = try Row.fetchAll(
            db,
            sql: """
                SELECT email_key, id FROM contacts
                WHERE email_key IN (SELECT email_key FROM contacts GROUP BY email_key HAVING count(*) > 1)
                ORDER BY email_key, created_at, id
                """
        )
        var merged = 0
        var keep: (key: String, id: String)?
        for row in rows {
            let key: String = row[0]
            let id: String = row[1]
            if let k = keep, k.key == key {
                try mergeContacts(db, keep: k.id, duplicate: id, actor: actor, at: at, reason: reason + " (same email " + key + ")")
                merged += 1
            } else {
                keep = (key, id)
            }
        }
        return merged
    }

    /// Points everything that named `from` at `to`; returns how many rows moved, by table.
    static func moveReferences(_ db: Database, from: String, to: String) throws -> String {
        try db.execute(sql: "UPDATE touchpoints SET contact_id = ? WHERE contact_id = ?", arguments: [to, from])
        let touchpoints = db.changesCount
        try db.execute(sql: "UPDATE opportunities SET primary_contact_id = ? WHERE primary_contact_id = ?", arguments: [to, from])
        let opportunities = db.changesCount
        // Roles: the duplicate's role row moves unless the kept contact already has one on that deal.
        let roles = try Row.fetchAll(
            db,
            sql: "SELECT opportunity_id, role FROM opportunity_contacts WHERE contact_id = ?",
            arguments: [from]
        )
        for row in roles {
            let opp: String = row[0]
            let role: String? = row[1]
            try db.execute(sql: "DELETE FROM opportunity_contacts WHERE id = ?", arguments: [opp + "|" + from])
            try db.execute(
                sql: """
                    INSERT INTO opportunity_contacts(id, opportunity_id, contact_id, role) VALUES (?, ?, ?, ?)
                    ON CONFLICT(id) DO UPDATE SET role = coalesce(opportunity_contacts.role, excluded.role)
                    """,
                arguments: [opp + "|" + to, opp, to, role]
            )
        }
        return "{\"touchpoints\":\(touchpoints),\"opportunities\":\(opportunities),\"opportunity_contacts\":\(roles.count)}"
    }

    // MARK: Access

    public func createToken(userID: String, role: AccessRole, name: String, hash: String, actor: Actor, at: Timestamp) async throws -> String {
        let id = makeID("tok")
        try await writeRefreshingKPIs { db in
            guard try Self.exists(db, .users, id: userID) else { throw StoreError.notFound(.users, userID) }
            try db.execute(
                sql: "INSERT INTO api_tokens(id, user_id, role, name, token_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [id, userID, role.rawValue, name, hash, at.milliseconds]
            )
            try Self.audit(db, actor, at, "create", "api_tokens", id, "{\"user_id\":\"\(userID)\",\"role\":\"\(role.rawValue)\"}")
        }
        return id
    }

    public func principal(tokenHash: String) async throws -> TokenPrincipal? {
        try await pool.read { db in
            guard
                let row = try Row.fetchOne(
                    db.cachedStatement(sql: "SELECT id, user_id, role FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL"),
                    arguments: [tokenHash]
                )
            else { return nil }
            guard let role = AccessRole(rawValue: row[2]) else { return nil }
            return TokenPrincipal(tokenID: row[0], userID: row[1], role: role)
        }
    }

    public func revokeToken(id: String, actor: Actor, at: Timestamp) async throws {
        try await writeRefreshingKPIs { db in
            try db.execute(sql: "UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", arguments: [at.milliseconds, id])
            guard db.changesCount == 1 else { throw StoreError.missing("no active token with id \"\(id)\"") }
            try Self.audit(db, actor, at, "revoke", "api_tokens", id, "{}")
        }
    }

    public func setPasswordHash(userID: String, hash: String, actor: Actor, at: Timestamp) async throws {
        try await writeRefreshingKPIs { db in
            try db.execute(sql: "UPDATE users SET password_hash = ? WHERE id = ?", arguments: [hash, userID])
            guard db.changesCount == 1 else { throw StoreError.notFound(.users, userID) }
            try Self.audit(db, actor, at, "set_password", "users", userID, "{}")
        }
    }

    public func passwordHash(emailKey: String) async throws -> (userID: String, role: AccessRole, hash: String)? {
        try await pool.read { db in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: "SELECT id, access_role, team, password_hash FROM users WHERE email_key = ?",
                    arguments: [emailKey]
                ),
                let hash: String = row[3]
            else { return nil }
            let role = (row[1] as String?).flatMap(AccessRole.init(rawValue:)) ?? AccessRole.defaultFor(team: row[2])
            return (row[0], role, hash)
        }
    }
}
