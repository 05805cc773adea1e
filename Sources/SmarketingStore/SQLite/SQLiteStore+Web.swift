import Foundation
import GRDB
import SmarketingCore

extension SQLiteStore {
    // MARK: Sessions

    public func createWebSession(_ s: WebSession) async throws {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM web_sessions WHERE expires_at <= ?", arguments: [s.createdAt.milliseconds])
            try db.execute(
                sql: "INSERT INTO web_sessions(id_hash, user_id, role, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [s.idHash, s.userID, s.role.rawValue, s.csrf, s.createdAt.milliseconds, s.expiresAt.milliseconds]
            )
        }
    }

    public func webSession(idHash: String, now: Timestamp) async throws -> WebSession? {
        try await pool.read { db in
            guard
                let row = try Row.fetchOne(
                    db.cachedStatement(sql: "SELECT user_id, role, csrf, created_at, expires_at FROM web_sessions WHERE id_hash = ? AND expires_at > ?"),
                    arguments: [idHash, now.milliseconds]
                ), let role = AccessRole(rawValue: row[1])
            else { return nil }
            return WebSession(
                idHash: idHash,
                userID: row[0],
                role: role,
                csrf: row[2],
                createdAt: Timestamp(milliseconds: row[3]),
                expiresAt: Timestamp(milliseconds: row[4])
            )
        }
    }

    public func deleteWebSession(idHash: String) async throws {
        try await pool.write { db in try db.execute(sql: "DELETE FROM web_sessions WHERE id_hash = ?", arguments: [idHash]) }
    }

    public func loginFailures(keys: [String], since: Timestamp) async throws -> [String: (count: Int, oldest: Timestamp)] {
        try await pool.read { db in
            var out: [String: (count: Int, oldest: Timestamp)] = [:]
            let statement = try db.cachedStatement(sql: "SELECT count(*), min(at) FROM login_failures WHERE key = ? AND at > ?")
            for key in keys {
                guard let row = try Row.fetchOne(statement, arguments: [key, since.milliseconds]), let oldest: Int64 = row[1] else { continue }
                out[key] = (row[0], Timestamp(milliseconds: oldest))
            }
            return out
        }
    }

    public func recordLoginFailure(keys: [String], at: Timestamp, forgetBefore: Timestamp) async throws {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM login_failures WHERE at <= ?", arguments: [forgetBefore.milliseconds])
            for key in keys { try db.execute(sql: "INSERT INTO login_failures(key, at) VALUES (?, ?)", arguments: [key, at.milliseconds]) }
        }
    }

    public func clearLoginFailures(keys: [String]) async throws {
        try await pool.write { db in
            for key in keys { try db.execute(sql: "DELETE FROM login_failures WHERE key = ?", arguments: [key]) }
        }
    }

    public func tokens() async throws -> [TokenInfo] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT id, user_id, role, name, created_at, revoked_at FROM api_tokens ORDER BY created_at DESC, id").compactMap { row in
                guard let role = AccessRole(rawValue: row[2]) else { return nil }
                let revoked: Int64? = row[5]
                return TokenInfo(
                    id: row[0],
                    userID: row[1],
                    role: role,
                    name: row[3],
                    createdAt: Timestamp(milliseconds: row[4]),
                    revokedAt: revoked.map(Timestamp.init(milliseconds:))
                )
            }
        }
    }

    // MARK: Leads

    public func leads(_ q: LeadQuery, now: Timestamp) async throws -> LeadPage {
        var conditions: [String] = []
        var args: [(any DatabaseValueConvertible)?] = []
        if let text = q.search?.trimmingCharacters(in: .whitespaces), !text.isEmpty {
            if text.contains("@"), let key = EmailAddress.key(text) {
                // An email: the index on the normalised address.
                conditions.append("c.email_key = ?")
                args.append(key)
            } else {
                let plain = RecordRules.leadSearchText(text)
                let like = "%" + plain + "%"
                let exact = "(lower(coalesce(c.first_name, '') || ' ' || coalesce(c.last_name, '')) LIKE ? OR c.email_key LIKE ?)"
                if let match = SQLiteSearch.match(plain, in: .leads) {
                    // The trigram index finds the candidates; LIKE decides. With many candidates
                    // the list walks its created_at index instead (SQLiteSearch).
                    var walk = false
                    if q.staleDays == nil { walk = try await pool.read { db in try SQLiteSearch.walksSortIndex(db, match: match, page: max(1, min(q.limit, 500))) } }
                    conditions.append("(\(walk ? "+" : "")c.rowid IN (SELECT rowid FROM contacts_search WHERE contacts_search MATCH ?) AND \(exact))")
                    args += [match, like, like]
                } else {
                    conditions.append(exact)
                    args += [like, like]
                }
            }
        }
        let equals: [(String?, String)] = [
            (q.stage, "c.lifecycle_stage = ?"), (q.ownerID, "c.owner_id = ?"), (q.grade, "s.grade = ?"),
            (q.personaID, "coalesce(s.persona_id, c.persona_id) = ?"), (q.campaignID, "c.source_campaign_id = ?"),
        ]
        for case (let value?, let condition) in equals {
            conditions.append(condition)
            args.append(value)
        }
        var stale: (days: Int, slot: Int)?
        // The sort key and the page cursor: newest first, or, for stale leads, longest idle first.
        var sortKey = "c.created_at"
        var order = "c.created_at DESC, c.id DESC"
        var from = "contacts c"
        if let days = q.staleDays {
            // Stale exactly as the KPI set and the funnel count it: an MQL, SAL or SQL whose last
            // sales action (or hand-over) fell on a local day more than `days` days ago. The
            // aggregates keep the end of that day per contact (`idle_until`, indexed), so the list
            // walks that index from the longest idle.
            // Without statistics SQLite prefers the stage index and sorts every MQL, SAL and SQL
            // (0.7 s at 1M leads); walking the idle index stops after one page (9 ms).
            from = "kpi_facts f INDEXED BY kpi_facts_idle JOIN contacts c ON c.id = f.id"
            conditions.append("f.idle_until <= ? AND f.kind = 'c'")
            conditions.append("+c.lifecycle_stage IN ('mql', 'sal', 'sql')")
            stale = (days, args.count)
            args.append(nil)  // set in the read, which knows the workspace calendar
            sortKey = "f.idle_until"
            order = "f.idle_until, f.id"
        }
        if let after = q.after, let bar = after.firstIndex(of: "|"), let at = Int64(after[..<bar]) {
            let op = q.staleDays == nil ? "<" : ">"
            conditions.append("(\(sortKey) \(op) ? OR (\(sortKey) = ? AND c.id \(op) ?))")
            args += [at, at, String(after[after.index(after: bar)...])]
        }
        let limit = max(1, min(q.limit, 500))
        let sql = """
            SELECT c.id, c.first_name, c.last_name, c.email, c.title, a.name, c.lifecycle_stage, c.owner_id, u.name,
                   s.grade, s.engagement, coalesce(s.persona_id, c.persona_id), c.source_campaign_id, c.created_at, \(sortKey)
            FROM \(from)
            LEFT JOIN contact_scores s ON s.contact_id = c.id
            LEFT JOIN accounts a ON a.id = c.account_id
            LEFT JOIN users u ON u.id = c.owner_id
            \(conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND "))
            ORDER BY \(order) LIMIT \(limit + 1)
            """
        let values: [DatabaseValue] = args.map { $0?.databaseValue ?? .null }
        let staleSlot = stale
        return try await pool.read { db in
            var args = values
            if let stale = staleSlot {
                let calendar = try Self.kpiSettings(db).calendar
                args[stale.slot] = calendar.start(ofDay: calendar.olderThan(days: stale.days, asOf: now)).milliseconds.databaseValue
            }
            let arguments = StatementArguments(args)
            var keys: [Int64] = []
            var rows = try Row.fetchAll(db, sql: sql, arguments: arguments).map { r -> LeadRow in
                keys.append(r[14])
                let first: String? = r[1]
                let last: String? = r[2]
                let name = [first, last].compactMap { $0 }.joined(separator: " ")
                return LeadRow(
                    id: r[0],
                    name: name,
                    email: r[3],
                    title: r[4],
                    accountName: r[5],
                    stage: r[6],
                    ownerID: r[7],
                    ownerName: r[8],
                    grade: r[9],
                    engagement: r[10],
                    personaID: r[11],
                    campaignID: r[12],
                    createdAt: Timestamp(milliseconds: r[13])
                )
            }
            var next: String?
            if rows.count > limit {
                rows.removeLast()
                if let last = rows.last { next = "\(keys[rows.count - 1])|\(last.id)" }
            }
            return LeadPage(rows: rows, next: next)
        }
    }

    // MARK: Pipeline

    public func pipelineReview(today: LocalDate, now: Timestamp, slippedLimit: Int) async throws -> PipelineReview {
        try await pool.read { db in
            // One pass over the open deals (a few thousand even at a million leads).
            let open = try Row.fetchAll(
                db,
                sql:
                    "SELECT id, coalesce(name, id), account_id, stage, owner_id, amount, expected_close_date, created_at FROM opportunities WHERE closed_at IS NULL"
            ).map { r in
                OpenDeal(
                    id: r[0],
                    name: r[1],
                    accountID: r[2],
                    stage: r[3],
                    ownerID: r[4],
                    amount: r[5] ?? 0,
                    expectedClose: (r[6] as String?).flatMap(LocalDate.parse),
                    createdAt: Timestamp(milliseconds: r[7])
                )
            }
            var review = PipelineReview.build(open: open, today: today, now: now, slippedLimit: slippedLimit)
            let accountName = try db.cachedStatement(sql: "SELECT name FROM accounts WHERE id = ?")
            for i in review.slipped.indices { review.slipped[i].accountName = try String.fetchOne(accountName, arguments: [review.slipped[i].accountID]) }
            return review
        }
    }

    // MARK: Content

    public func contentUsage() async throws -> [ContentUsage] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT content_id, sum(actor_id IS NULL), sum(actor_id IS NOT NULL), count(DISTINCT contact_id)
                    FROM touchpoints WHERE content_id IS NOT NULL GROUP BY content_id
                    """
            ).map { ContentUsage(contentID: $0[0], marketingTouches: $0[1], salesTouches: $0[2], contacts: $0[3]) }
        }
    }
}
