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
    /// Hears the phase and, for contacts, how many are done (every 10,000).
    var progress: ((String, Int) -> Void)?

    init(_ db: Database, settings: KPISettings, config: HandoverConfig?, incremental: Bool) {
        self.db = db
        self.settings = settings
        self.config = config
        self.incremental = incremental
    }

    func run(into delta: inout KPICellDelta) throws {
        try contacts(into: &delta)
        progress?("deals", 0)
        try deals(into: &delta)
        progress?("accounts", 0)
        try accounts(into: &delta)
        progress?("costs", 0)
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


    // MARK: Contacts

    func contacts(into delta: inout KPICellDelta) throws {
        let ids = try dirtyIDs("c")
        guard !ids.isEmpty else { return }
        let scope = "SELECT id FROM kpi_dirty WHERE kind = 'c'"
        var firstDeal: [String: Int64] = [:]
        for sql in KPIDerive.firstDealSQL(scope: scope) {
            ScoringRows.earliest(try Row.fetchAll(db, sql: sql).map { ($0[0], $0[1]) }, into: &firstDeal)
        }
        let segment = try segments(scope)
        let old = try oldFacts("c")
        var found = Set<String>()
        let rows = try Row.fetchCursor(db, sql: KPIDerive.contactSQL(scope: scope))
        var changedCuts: [String] = []
        while let r = try rows.next() {
            let id: String = r[0]
            found.insert(id)
            if let progress, found.count % 10_000 == 0 { progress("contacts", found.count) }
            let columns = KPIDerive.ContactColumns(
                createdAt: r[1],
                stage: r[2],
                becameLeadAt: r[3],
                mqlAt: r[4],
                salAt: r[5],
                opportunityAt: r[6],
                assignedAt: r[7],
                channel: r[8],
                campaign: r[9],
                persona: r[10],
                owner: r[11],
                respondedAt: r[12],
                sqlAt: r[13],
                customerAt: r[14],
                exitAt: r[15],
                exitReason: r[16],
                lastSalesAt: r[17]
            )
            let facts = KPIDerive.contact(columns, firstDeal: firstDeal[id], segment: segment[id], config: config)
            let responded = facts.respondedAt
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
        var deals: [String: KPIDerive.DealColumns] = [:]
        var order: [String] = []
        let rows = try Row.fetchCursor(db, sql: KPIDerive.dealSQL(scope: scope))
        while let r = try rows.next() {
            let id: String = r[0]
            order.append(id)
            let won: Int64? = r[4]
            deals[id] = KPIDerive.DealColumns(
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
        var people: [String: KPIDerive.Person] = [:]
        let prow = try Row.fetchCursor(
            db,
            sql: "SELECT id, created_at, source_channel, source_campaign_id, persona_id FROM contacts WHERE id IN (\(contactScope))"
        )
        while let r = try prow.next() { people[r[0]] = KPIDerive.Person(created: r[1], channel: r[2], campaign: r[3], persona: r[4]) }
        let segment = try segments(contactScope)
        // Which contacts each deal has now (for the marketing-touch trigger and first touches).
        try db.execute(sql: "DELETE FROM kpi_deal_contacts WHERE opportunity_id IN (\(scope))")
        let link = try db.cachedStatement(sql: "INSERT OR IGNORE INTO kpi_deal_contacts(contact_id, opportunity_id, won_closed_at) VALUES (?, ?, ?)")
        var members: [String: [String]] = [:]
        for id in order {
            guard let d = deals[id] else { continue }
            let list = KPIDerive.members(d, people: people)
            members[id] = list
            let wonClose = KPIDerive.wonClose(d)
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
            let facts = KPIDerive.deal(
                d,
                members: members[id] ?? [],
                people: people,
                segment: segment,
                firstMarketingTouch: firstTouch[id],
                config: config
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
