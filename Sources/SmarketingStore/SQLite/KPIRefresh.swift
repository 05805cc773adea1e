import Foundation
import GRDB
import SmarketingCore

/// One pass over the dirty records: contacts, then deals (a contact's change can change its
/// deals' cuts), accounts and costs.
struct KPIRefresh {
    let db: Database
    let settings: KPISettings
    let config: HandoverConfig?
    /// Old facts exist and are subtracted (false in a rebuild, which starts from empty cells).
    let incremental: Bool

    init(_ db: Database, settings: KPISettings, config: HandoverConfig?, incremental: Bool) {
        self.db = db
        self.settings = settings
        self.config = config
        self.incremental = incremental
    }

    func run(into delta: inout KPICellDelta) throws {
        try contacts(into: &delta)
        try deals(into: &delta)
        try accounts(into: &delta)
        try costs(into: &delta)
    }

    static func ts(_ v: DatabaseValue) -> Timestamp? { Int64.fromDatabaseValue(v).map(Timestamp.init(milliseconds:)) }

    /// The stored facts of the dirty records of `kind`.
    func oldFacts(_ kind: String) throws -> [String: String] {
        guard incremental else { return [:] }
        var out: [String: String] = [:]
        let rows = try Row.fetchCursor(
            db.cachedStatement(sql: "SELECT id, facts FROM kpi_facts WHERE kind = ?1 AND id IN (SELECT id FROM kpi_dirty WHERE kind = ?1)"),
            arguments: [kind]
        )
        while let r = try rows.next() { out[r[0]] = r[1] }
        return out
    }

    /// Replaces the stored facts of one record (nil: the record is gone). `respondedAt` lets the
    /// sales-touch trigger skip touches that cannot change a contact's first response.
    /// `idleUntil` (the end of the local day of a stale-able lead's last sales action) lets it
    /// skip sales touches that cannot move the lead's `sales_idle` cell.
    func store(_ kind: String, _ id: String, _ facts: String?, respondedAt: Timestamp? = nil, idleUntil: Timestamp? = nil) throws {
        if let facts {
            try db.cachedStatement(sql: "INSERT OR REPLACE INTO kpi_facts(kind, id, facts, responded_at, idle_until) VALUES (?, ?, ?, ?, ?)")
                .execute(arguments: [kind, id, facts, respondedAt?.milliseconds, idleUntil?.milliseconds])
        } else if incremental {
            try db.cachedStatement(sql: "DELETE FROM kpi_facts WHERE kind = ? AND id = ?").execute(arguments: [kind, id])
        }
    }

    func dirtyIDs(_ kind: String) throws -> [String] {
        try String.fetchAll(db.cachedStatement(sql: "SELECT DISTINCT id FROM kpi_dirty WHERE kind = ?"), arguments: [kind])
    }

    /// The latest handover segment of each contact in `scope` (an SQL list of contact ids).
    func segments(_ scope: String) throws -> [String: String] {
        var out: [String: String] = [:]
        let rows = try Row.fetchCursor(db, sql: "SELECT contact_id, segment FROM handovers WHERE contact_id IN (\(scope)) ORDER BY id")
        while let r = try rows.next() { out[r[0]] = r[1] as String? ?? KPIDimension.none }
        return out
    }

    func team(_ owner: String?) -> String? { owner.flatMap { config?.team(of: $0)?.id } }

    // MARK: Contacts

    func contacts(into delta: inout KPICellDelta) throws {
        let ids = try dirtyIDs("c")
        guard !ids.isEmpty else { return }
        let scope = "SELECT id FROM kpi_dirty WHERE kind = 'c'"
        var firstDeal: [String: Int64] = [:]
        for sql in [
            "SELECT oc.contact_id, min(o.created_at) FROM opportunity_contacts oc JOIN opportunities o ON o.id = oc.opportunity_id WHERE oc.contact_id IN (\(scope)) GROUP BY 1",
            "SELECT primary_contact_id, min(created_at) FROM opportunities WHERE primary_contact_id IN (\(scope)) GROUP BY 1",
        ] {
            let rows = try Row.fetchCursor(db, sql: sql)
            while let r = try rows.next() {
                let id: String = r[0]
                let t: Int64 = r[1]
                if let known = firstDeal[id], known <= t { continue }
                firstDeal[id] = t
            }
        }
        let segment = try segments(scope)
        let old = try oldFacts("c")
        var found = Set<String>()
        let rows = try Row.fetchCursor(
            db,
            sql: """
                SELECT c.id, c.created_at, c.lifecycle_stage, c.became_lead_at, c.became_mql_at, c.became_sal_at,
                       c.became_opportunity_at, c.assigned_at, c.source_channel, c.source_campaign_id, c.persona_id, c.owner_id,
                       -- first / last sales action: ORDER BY … LIMIT 1 walks the (contact, time) index and
                       -- stops at the first match (min()/max() with extra conditions read every touch)
                       CASE WHEN c.assigned_at IS NOT NULL AND c.became_mql_at IS NOT NULL THEN
                         (SELECT t.occurred_at FROM touchpoints t WHERE t.contact_id = c.id AND t.occurred_at >= c.assigned_at
                            AND t.actor_id IS NOT NULL AND t.type IN \(SQLiteStore.salesTouchTypes) ORDER BY t.occurred_at LIMIT 1) END,
                       c.became_sql_at, c.became_customer_at,
                       CASE WHEN c.lifecycle_stage IN ('recycled', 'disqualified') THEN coalesce(
                         (SELECT l.at || char(31) || coalesce(
                             (SELECT h.reason FROM handovers h WHERE h.contact_id = c.id AND h.status = 'rejected' AND h.closed_at >= l.at
                              ORDER BY h.id DESC LIMIT 1), c.recycle_reason, l.reason, '')
                          FROM lifecycle_transitions l WHERE l.contact_id = c.id AND l.to_stage = c.lifecycle_stage
                          ORDER BY l.at DESC, l.seq DESC LIMIT 1),
                         CASE WHEN c.recycled_at IS NOT NULL THEN c.recycled_at || char(31) || coalesce(c.recycle_reason, '') END) END,
                       CASE WHEN c.lifecycle_stage IN ('mql', 'sal', 'sql') THEN
                         (SELECT t.occurred_at FROM touchpoints t WHERE t.contact_id = c.id
                            AND t.actor_id IS NOT NULL AND t.type IN \(SQLiteStore.salesTouchTypes) ORDER BY t.occurred_at DESC LIMIT 1) END
                FROM contacts c WHERE c.id IN (\(scope))
                """
        )
        var changedCuts: [String] = []
        while let r = try rows.next() {
            let id: String = r[0]
            found.insert(id)
            let owner: String? = r[11]
            let assigned = Self.ts(r[7])
            let responded = Self.ts(r[12])
            var business: Int64?
            if let assigned, let responded, let calendar = config?.calendar(forOwner: owner) {
                business = calendar.businessTime(from: assigned, to: responded)
            }
            var exitAt: Timestamp?
            var exitReason: String?
            if let exit: String = r[15] {
                let parts = exit.split(separator: "\u{1F}", maxSplits: 1, omittingEmptySubsequences: false)
                exitAt = Int64(parts[0]).map(Timestamp.init(milliseconds:))
                exitReason = parts.count > 1 && !parts[1].isEmpty ? String(parts[1]) : nil
            }
            let facts = ContactKPIFacts(
                createdAt: Timestamp(milliseconds: r[1]),
                stage: r[2],
                becameLeadAt: Self.ts(r[3]),
                mqlAt: Self.ts(r[4]),
                salAt: Self.ts(r[5]),
                opportunityAt: Self.ts(r[6]) ?? firstDeal[id].map(Timestamp.init(milliseconds:)),
                assignedAt: assigned,
                respondedAt: responded,
                responseBusinessMs: business,
                cuts: KPICuts([.channel: r[8], .campaign: r[9], .persona: r[10], .segment: segment[id], .owner: owner, .team: team(owner)]),
                sqlAt: Self.ts(r[13]),
                customerAt: Self.ts(r[14]),
                exitAt: exitAt,
                exitReason: exitReason,
                lastSalesAt: Self.ts(r[16])
            )
            let text = KPIFactsCodec.encode(facts)
            let before = old[id]
            if before == text { continue }
            let oldContribution = before.flatMap(KPIFactsCodec.contact).map { KPIContribution.of($0, calendar: settings.calendar, slaMs: settings.slaMs) }
            delta.add(from: oldContribution, to: KPIContribution.of(facts, calendar: settings.calendar, slaMs: settings.slaMs))
            try delta.flushIfLarge(db)
            let idleUntil = facts.salesIdleSince.map { settings.calendar.start(ofDay: settings.calendar.day($0.since) + 1) }
            try store("c", id, text, respondedAt: responded, idleUntil: idleUntil)
            if incremental { changedCuts.append(id) }
        }
        for (id, text) in old where !found.contains(id) {
            if let f = KPIFactsCodec.contact(text) { delta.add(from: KPIContribution.of(f, calendar: settings.calendar, slaMs: settings.slaMs), to: nil) }
            try store("c", id, nil)
            changedCuts.append(id)
        }
        // A deal takes its cuts and first marketing touch from its contacts.
        let mark = try db.cachedStatement(sql: "INSERT INTO kpi_dirty SELECT 'd', opportunity_id FROM kpi_deal_contacts WHERE contact_id = ?")
        for id in changedCuts { try mark.execute(arguments: [id]) }
        try db.execute(sql: "DELETE FROM kpi_dirty WHERE kind = 'c'")
    }

    // MARK: Deals

    func deals(into delta: inout KPICellDelta) throws {
        let ids = try dirtyIDs("d")
        guard !ids.isEmpty else { return }
        let scope = "SELECT id FROM kpi_dirty WHERE kind = 'd'"
        struct Raw {
            var account: String
            var created: Timestamp
            var closed: Timestamp?
            var isWon: Bool?
            var amount: Double?
            var expected: String?
            var stage: String?
            var lostReason: String?
            var owner: String?
            var primary: String?
            var contacts: [String] = []
        }
        var deals: [String: Raw] = [:]
        var order: [String] = []
        let rows = try Row.fetchCursor(
            db,
            sql: """
                SELECT id, account_id, created_at, closed_at, is_won, amount, expected_close_date, stage, lost_reason, owner_id, primary_contact_id
                FROM opportunities WHERE id IN (\(scope))
                """
        )
        while let r = try rows.next() {
            let id: String = r[0]
            order.append(id)
            let won: Int64? = r[4]
            deals[id] = Raw(
                account: r[1],
                created: Timestamp(milliseconds: r[2]),
                closed: Self.ts(r[3]),
                isWon: won.map { $0 != 0 },
                amount: r[5],
                expected: r[6],
                stage: r[7],
                lostReason: r[8],
                owner: r[9],
                primary: r[10]
            )
        }
        let links = try Row.fetchCursor(db, sql: "SELECT opportunity_id, contact_id FROM opportunity_contacts WHERE opportunity_id IN (\(scope))")
        while let r = try links.next() {
            let d: String = r[0]
            deals[d]?.contacts.append(r[1])
        }
        // The deal's contacts (each once) and the cut contact: the primary, else the earliest created.
        let contactScope = """
            SELECT contact_id FROM opportunity_contacts WHERE opportunity_id IN (\(scope))
            UNION SELECT primary_contact_id FROM opportunities WHERE id IN (\(scope))
            """
        var people: [String: (created: Int64, channel: String?, campaign: String?, persona: String?)] = [:]
        let prow = try Row.fetchCursor(
            db,
            sql: "SELECT id, created_at, source_channel, source_campaign_id, persona_id FROM contacts WHERE id IN (\(contactScope))"
        )
        while let r = try prow.next() { people[r[0]] = (r[1], r[2], r[3], r[4]) }
        let segment = try segments(contactScope)
        // Which contacts each deal has now (for the marketing-touch trigger and first touches).
        try db.execute(sql: "DELETE FROM kpi_deal_contacts WHERE opportunity_id IN (\(scope))")
        let link = try db.cachedStatement(sql: "INSERT OR IGNORE INTO kpi_deal_contacts(contact_id, opportunity_id, won_closed_at) VALUES (?, ?, ?)")
        var members: [String: [String]] = [:]
        for id in order {
            guard let d = deals[id] else { continue }
            var seen = Set<String>()
            var list: [String] = []
            for c in (d.primary.map { [$0] } ?? []) + d.contacts where people[c] != nil && seen.insert(c).inserted { list.append(c) }
            members[id] = list
            let wonClose: Int64? = d.isWon == true ? d.closed?.milliseconds : nil
            for c in list { try link.execute(arguments: [c, id, wonClose]) }
        }
        var firstTouch: [String: Int64] = [:]
        let ft = try Row.fetchCursor(
            db,
            sql: """
                SELECT dc.opportunity_id, min(t.occurred_at) FROM kpi_deal_contacts dc
                JOIN touchpoints t ON t.contact_id = dc.contact_id AND t.occurred_at <= dc.won_closed_at AND t.actor_id IS NULL
                WHERE dc.opportunity_id IN (\(scope)) AND dc.won_closed_at IS NOT NULL GROUP BY 1
                """
        )
        while let r = try ft.next() { firstTouch[r[0]] = r[1] }
        let old = try oldFacts("d")
        for id in order {
            guard let d = deals[id] else { continue }
            let list = members[id] ?? []
            let cutContact: String? =
                d.primary.flatMap { people[$0] != nil ? $0 : nil }
                ?? list.min { a, b in (people[a]!.created, a) < (people[b]!.created, b) }
            let p = cutContact.flatMap { people[$0] }
            let facts = DealKPIFacts(
                createdAt: d.created,
                closedAt: d.closed,
                isWon: d.isWon,
                amountCents: Money.cents(d.amount),
                expectedCloseDay: d.expected.flatMap(LocalDate.parse).map(\.daysSinceEpoch),
                probabilityPercent: StageProbability.percent(d.stage),
                lostReason: d.lostReason,
                firstMarketingTouchAt: firstTouch[id].map(Timestamp.init(milliseconds:)),
                cuts: KPICuts([
                    .channel: p?.channel, .campaign: p?.campaign, .persona: p?.persona, .segment: cutContact.flatMap { segment[$0] },
                    .owner: d.owner, .team: team(d.owner),
                ])
            )
            let text = KPIFactsCodec.encode(facts)
            if old[id] == text { continue }
            let before = old[id].flatMap(KPIFactsCodec.deal).map { KPIContribution.of($0, calendar: settings.calendar) }
            delta.add(from: before, to: KPIContribution.of(facts, calendar: settings.calendar))
            try delta.flushIfLarge(db)
            try store("d", id, text)
        }
        for (id, text) in old where deals[id] == nil {
            if let f = KPIFactsCodec.deal(text) {
                delta.add(from: KPIContribution.of(f, calendar: settings.calendar), to: nil)
            }
            try store("d", id, nil)
        }
        try db.execute(sql: "DELETE FROM kpi_dirty WHERE kind = 'd'")
    }

    // MARK: Accounts and costs

    func accounts(into delta: inout KPICellDelta) throws {
        let ids = try dirtyIDs("a")
        guard !ids.isEmpty else { return }
        var firstWon: [String: Int64] = [:]
        let rows = try Row.fetchCursor(
            db,
            sql: """
                SELECT account_id, min(closed_at) FROM opportunities
                WHERE account_id IN (SELECT id FROM kpi_dirty WHERE kind = 'a') AND is_won = 1 AND closed_at IS NOT NULL GROUP BY 1
                """
        )
        while let r = try rows.next() { firstWon[r[0]] = r[1] }
        let old = try oldFacts("a")
        for id in ids {
            let t = firstWon[id].map(Timestamp.init(milliseconds:))
            let text = t.map { String($0.milliseconds) }
            if old[id] == text { continue }
            let before = old[id].flatMap(Int64.init).map(Timestamp.init(milliseconds:))
            delta.add(
                from: KPIContribution.account(firstWonAt: before, calendar: settings.calendar),
                to: KPIContribution.account(firstWonAt: t, calendar: settings.calendar)
            )
            try store("a", id, text)
        }
        try db.execute(sql: "DELETE FROM kpi_dirty WHERE kind = 'a'")
    }

    func costs(into delta: inout KPICellDelta) throws {
        let ids = try dirtyIDs("k")
        guard !ids.isEmpty else { return }
        var now: [String: CostKPIFacts] = [:]
        let rows = try Row.fetchCursor(
            db,
            sql: """
                SELECT c.id, c.date, c.category, c.amount, c.campaign_id, cp.channel FROM costs c LEFT JOIN campaigns cp ON cp.id = c.campaign_id
                WHERE c.id IN (SELECT id FROM kpi_dirty WHERE kind = 'k')
                """
        )
        while let r = try rows.next() {
            guard let day = (r[1] as String?).flatMap(LocalDate.parse) else { continue }
            now[r[0]] = CostKPIFacts(day: day.daysSinceEpoch, category: r[2], amountCents: Money.cents(r[3]), campaign: r[4], channel: r[5])
        }
        let old = try oldFacts("k")
        for id in ids {
            let text = now[id].map(KPIFactsCodec.encode)
            if old[id] == text { continue }
            delta.add(from: old[id].flatMap(KPIFactsCodec.cost).map(KPIContribution.of), to: now[id].map(KPIContribution.of))
            try store("k", id, text)
        }
        try db.execute(sql: "DELETE FROM kpi_dirty WHERE kind = 'k'")
    }
}
