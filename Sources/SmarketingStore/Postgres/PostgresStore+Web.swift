import Foundation
import SmarketingCore

/// The web app's reads on PostgreSQL: the lead list, the pipeline review, content usage.
extension PostgresStore: WebReadStore {
    public func leads(_ q: LeadQuery, now: Timestamp) async throws -> LeadPage {
        var conditions: [String] = []
        var args: [PGValue] = []
        var narrowing: String?
        if let text = q.search?.trimmingCharacters(in: .whitespaces), !text.isEmpty {
            if text.contains("@"), let key = EmailAddress.key(text) {
                conditions.append("c.email_key = ?")
                args.append(.text(key))
            } else {
                let plain = RecordRules.leadSearchText(text)
                let like = "%" + plain + "%"
                conditions.append("(lower(coalesce(c.first_name, '') || ' ' || coalesce(c.last_name, '')) LIKE ? OR c.email_key LIKE ?)")
                args += [.text(like), .text(like)]
                // The trigram index finds the candidates, the name-or-email match decides
                // (PostgresSearch); added in the read, when the text has few candidates.
                if q.staleDays == nil, RecordRules.hasTrigram(plain) { narrowing = like }
            }
        }
        let equals: [(String?, String)] = [
            (q.stage, "c.lifecycle_stage = ?"), (q.ownerID, "c.owner_id = ?"), (q.grade, "s.grade = ?"),
            (q.personaID, "coalesce(s.persona_id, c.persona_id) = ?"), (q.campaignID, "c.source_campaign_id = ?"),
        ]
        for case (let value?, let condition) in equals {
            conditions.append(condition)
            args.append(.text(value))
        }
        var staleSlot: (days: Int, slot: Int)?
        var sortKey = "c.created_at"
        var order = "c.created_at DESC, c.id DESC"
        var from = "contacts c"
        if let days = q.staleDays {
            // Stale exactly as the KPI set and the funnel count it (see SQLiteStore.leads).
            from = "kpi_facts f JOIN contacts c ON c.id = f.id"
            conditions.append("f.idle_until <= ? AND f.kind = 'c'")
            conditions.append("c.lifecycle_stage IN ('mql', 'sal', 'sql')")
            staleSlot = (days, args.count)
            args.append(.null)
            sortKey = "f.idle_until"
            order = "f.idle_until, f.id"
        }
        if let after = q.after, let bar = after.firstIndex(of: "|"), let at = Int64(after[..<bar]) {
            let op = q.staleDays == nil ? "<" : ">"
            conditions.append("(\(sortKey) \(op) ? OR (\(sortKey) = ? AND c.id \(op) ?))")
            args += [.int(at), .int(at), .text(String(after[after.index(after: bar)...]))]
        }
        let limit = max(1, min(q.limit, 500))
        func select(_ conditions: [String]) -> String {
            let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
            let columns = """
                c.id, c.first_name, c.last_name, c.email, c.title, a.name, c.lifecycle_stage, c.owner_id, u.name,
                s.grade, s.engagement, coalesce(s.persona_id, c.persona_id), c.source_campaign_id, c.created_at, \(sortKey)
                """
            let joins = "LEFT JOIN contact_scores s ON s.contact_id = c.id LEFT JOIN accounts a ON a.id = c.account_id LEFT JOIN users u ON u.id = c.owner_id"
            guard q.staleDays == nil else { return "SELECT \(columns) FROM \(from) \(joins) \(filter) ORDER BY \(order) LIMIT \(limit + 1)" }
            // The page first, then its joins: the planner misjudges how many rows a text
            // finds, and joined every candidate (33k for a common name) before sorting.
            let scores = q.grade != nil || q.personaID != nil ? "LEFT JOIN contact_scores s ON s.contact_id = c.id" : ""
            return """
                SELECT \(columns)
                FROM (SELECT c.* FROM contacts c \(scores) \(filter) ORDER BY \(order) LIMIT \(limit + 1)) c \(joins)
                ORDER BY \(order)
                """
        }
        let sql = select(conditions)
        let narrowed = select(conditions + ["\(PostgresSearch.document(alias: "c")) ILIKE ?"])
        let staleArg = staleSlot
        let values = args
        return try await reportRead { c in
            var args = values
            var sql = sql
            if let like = narrowing, try await !PostgresSearch.many(c, like: like, page: limit + 1) {
                sql = narrowed
                args.append(.text(like))
            }
            if let stale = staleArg {
                let calendar = try await Self.kpiSettings(c).calendar
                args[stale.slot] = .int(calendar.start(ofDay: calendar.olderThan(days: stale.days, asOf: now)).milliseconds)
            }
            var keys: [Int64] = []
            var rows = try await c.rows(sql, args).map { r -> LeadRow in
                keys.append(r.int(14) ?? 0)
                let name = [r.text(1), r.text(2)].compactMap { $0 }.joined(separator: " ")
                return LeadRow(
                    id: r.text(0) ?? "",
                    name: name,
                    email: r.text(3) ?? "",
                    title: r.text(4),
                    accountName: r.text(5),
                    stage: r.text(6),
                    ownerID: r.text(7),
                    ownerName: r.text(8),
                    grade: r.text(9),
                    engagement: r.double(10),
                    personaID: r.text(11),
                    campaignID: r.text(12),
                    createdAt: Timestamp(milliseconds: r.int(13) ?? 0)
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

    public func pipelineReview(today: LocalDate, now: Timestamp, slippedLimit: Int) async throws -> PipelineReview {
        try await reportRead { c in
            let open = try await c.rows(
                "SELECT id, coalesce(name, id), account_id, stage, owner_id, amount, expected_close_date, created_at FROM opportunities WHERE closed_at IS NULL ORDER BY id"
            ).map { r in
                OpenDeal(
                    id: r.text(0) ?? "",
                    name: r.text(1) ?? "",
                    accountID: r.text(2) ?? "",
                    stage: r.text(3),
                    ownerID: r.text(4),
                    amount: r.double(5) ?? 0,
                    expectedClose: r.text(6).flatMap(LocalDate.parse),
                    createdAt: Timestamp(milliseconds: r.int(7) ?? 0)
                )
            }
            var review = PipelineReview.build(open: open, today: today, now: now, slippedLimit: slippedLimit)
            for i in review.slipped.indices {
                review.slipped[i].accountName = try await c.one("SELECT name FROM accounts WHERE id = ?", [.text(review.slipped[i].accountID)])?.text(0)
            }
            return review
        }
    }

    public func contentUsage() async throws -> [ContentUsage] {
        try await reportRead { c in
            try await c.rows(
                """
                SELECT content_id, count(*) FILTER (WHERE actor_id IS NULL), count(*) FILTER (WHERE actor_id IS NOT NULL), count(DISTINCT contact_id)
                FROM touchpoints WHERE content_id IS NOT NULL GROUP BY content_id ORDER BY content_id
                """
            ).map {
                ContentUsage(
                    contentID: $0.text(0) ?? "",
                    marketingTouches: Int(clamping: $0.int(1) ?? 0),
                    salesTouches: Int(clamping: $0.int(2) ?? 0),
                    contacts: Int(clamping: $0.int(3) ?? 0)
                )
            }
        }
    }
}

extension PostgresStore: FunnelStore {}
