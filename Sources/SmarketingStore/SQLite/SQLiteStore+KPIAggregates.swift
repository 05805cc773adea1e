import Foundation
import GRDB
import SmarketingCore

/// Incrementally maintained KPI aggregates.
///
/// Triggers on the raw tables (contacts, touchpoints, opportunities, their contacts, costs,
/// campaigns, handovers) put the id of every record whose KPI facts may have changed into
/// `kpi_dirty`, in the transaction of the change, whatever code path wrote it. Before that
/// transaction commits, `refreshKPIs` derives the facts of those records again (set-based queries
/// joined to the dirty list), subtracts their old contribution (kept in `kpi_facts`) from
/// `kpi_cells` and adds the new one. (`kpi_dirty` has no unique key on purpose: a trigger's
/// `OR IGNORE` is overridden by the conflict clause of the statement that fired it, e.g. an
/// upsert of the importer, so duplicates are allowed and read with DISTINCT / IN.) A rebuild is the same refresh with every record dirty, so
/// the incremental and the from-scratch path share one derivation; `verifyKPIs` runs a rebuild
/// in a transaction it rolls back and compares the cells.
extension SQLiteStore {
    /// The core's sales activity types as an SQL list.
    static let salesTouchTypes = "(" + HandoverRules.salesTouchTypes.sorted().map { "'\($0)'" }.joined(separator: ", ") + ")"

    static let kpiSchema = """
        CREATE TABLE kpi_dirty (kind TEXT NOT NULL, id TEXT NOT NULL);
        CREATE TABLE kpi_facts (
            kind TEXT NOT NULL, id TEXT NOT NULL, facts TEXT NOT NULL, responded_at INTEGER,
            PRIMARY KEY (kind, id)) WITHOUT ROWID;
        CREATE TABLE kpi_deal_contacts (
            contact_id TEXT NOT NULL, opportunity_id TEXT NOT NULL, won_closed_at INTEGER,
            PRIMARY KEY (contact_id, opportunity_id)) WITHOUT ROWID;
        CREATE INDEX kpi_deal_contacts_deal ON kpi_deal_contacts(opportunity_id);
        CREATE TABLE kpi_cells (
            metric TEXT NOT NULL, dim TEXT NOT NULL, day INTEGER NOT NULL, key TEXT NOT NULL, label TEXT NOT NULL,
            value INTEGER NOT NULL, n INTEGER NOT NULL, total INTEGER NOT NULL,
            PRIMARY KEY (metric, dim, day, key, label, value)) WITHOUT ROWID;
        CREATE TABLE kpi_state (id INTEGER PRIMARY KEY CHECK (id = 1), built_with TEXT, version INTEGER NOT NULL DEFAULT 0);
        INSERT INTO kpi_state(id, built_with) VALUES (1, NULL);
        CREATE INDEX opportunity_contacts_opportunity ON opportunity_contacts(opportunity_id);
        CREATE INDEX opportunities_primary ON opportunities(primary_contact_id);
        CREATE INDEX handovers_contact ON handovers(contact_id, id);
        CREATE INDEX costs_campaign ON costs(campaign_id);
        """ + kpiTriggers

    /// The contact columns KPI facts derive from.
    static let kpiContactsUpdateTrigger = """
        CREATE TRIGGER kpi_contacts_update AFTER UPDATE OF created_at, lifecycle_stage, became_lead_at, became_mql_at,
            became_sal_at, became_sql_at, became_opportunity_at, became_customer_at, recycled_at, recycle_reason, assigned_at,
            source_channel, source_campaign_id, persona_id, owner_id ON contacts BEGIN
            INSERT INTO kpi_dirty VALUES ('c', NEW.id), ('c', OLD.id); END;
        """

    /// The triggers that note changed records. A bundle import drops them for its transaction
    /// and rebuilds the aggregates at its end instead (one set-based pass beats a note per row).
    static let kpiTriggers = """
        CREATE TRIGGER kpi_contacts_insert AFTER INSERT ON contacts BEGIN
            INSERT INTO kpi_dirty VALUES ('c', NEW.id); END;
        \(kpiContactsUpdateTrigger)
        CREATE TRIGGER kpi_contacts_delete AFTER DELETE ON contacts BEGIN
            INSERT INTO kpi_dirty VALUES ('c', OLD.id); END;
        CREATE TRIGGER kpi_touchpoints_update AFTER UPDATE ON touchpoints BEGIN
            INSERT INTO kpi_dirty VALUES ('c', OLD.contact_id), ('c', NEW.contact_id);
            INSERT INTO kpi_dirty SELECT 'd', opportunity_id FROM kpi_deal_contacts
                WHERE contact_id IN (OLD.contact_id, NEW.contact_id); END;
        CREATE TRIGGER kpi_touchpoints_delete AFTER DELETE ON touchpoints BEGIN
            INSERT INTO kpi_dirty VALUES ('c', OLD.contact_id);
            INSERT INTO kpi_dirty SELECT 'd', opportunity_id FROM kpi_deal_contacts WHERE contact_id = OLD.contact_id; END;
        CREATE TRIGGER kpi_opportunities_insert AFTER INSERT ON opportunities BEGIN
            INSERT INTO kpi_dirty VALUES ('d', NEW.id), ('a', NEW.account_id);
            INSERT INTO kpi_dirty SELECT 'c', NEW.primary_contact_id WHERE NEW.primary_contact_id IS NOT NULL;
            INSERT INTO kpi_dirty SELECT 'c', contact_id FROM opportunity_contacts WHERE opportunity_id = NEW.id; END;
        CREATE TRIGGER kpi_opportunities_update AFTER UPDATE ON opportunities BEGIN
            INSERT INTO kpi_dirty VALUES ('d', NEW.id), ('d', OLD.id), ('a', NEW.account_id), ('a', OLD.account_id);
            INSERT INTO kpi_dirty SELECT 'c', x FROM (SELECT NEW.primary_contact_id AS x UNION SELECT OLD.primary_contact_id)
                WHERE x IS NOT NULL;
            INSERT INTO kpi_dirty SELECT 'c', contact_id FROM opportunity_contacts WHERE opportunity_id IN (NEW.id, OLD.id);
            INSERT INTO kpi_dirty SELECT 'c', contact_id FROM kpi_deal_contacts WHERE opportunity_id = OLD.id; END;
        CREATE TRIGGER kpi_opportunities_delete AFTER DELETE ON opportunities BEGIN
            INSERT INTO kpi_dirty VALUES ('d', OLD.id), ('a', OLD.account_id);
            INSERT INTO kpi_dirty SELECT 'c', contact_id FROM kpi_deal_contacts WHERE opportunity_id = OLD.id; END;
        CREATE TRIGGER kpi_opportunity_contacts_insert AFTER INSERT ON opportunity_contacts BEGIN
            INSERT INTO kpi_dirty VALUES ('d', NEW.opportunity_id), ('c', NEW.contact_id); END;
        CREATE TRIGGER kpi_opportunity_contacts_update AFTER UPDATE ON opportunity_contacts BEGIN
            INSERT INTO kpi_dirty VALUES ('d', NEW.opportunity_id), ('c', NEW.contact_id),
                ('d', OLD.opportunity_id), ('c', OLD.contact_id); END;
        CREATE TRIGGER kpi_opportunity_contacts_delete AFTER DELETE ON opportunity_contacts BEGIN
            INSERT INTO kpi_dirty VALUES ('d', OLD.opportunity_id), ('c', OLD.contact_id); END;
        CREATE TRIGGER kpi_costs_insert AFTER INSERT ON costs BEGIN INSERT INTO kpi_dirty VALUES ('k', NEW.id); END;
        CREATE TRIGGER kpi_costs_update AFTER UPDATE ON costs BEGIN
            INSERT INTO kpi_dirty VALUES ('k', NEW.id), ('k', OLD.id); END;
        CREATE TRIGGER kpi_costs_delete AFTER DELETE ON costs BEGIN INSERT INTO kpi_dirty VALUES ('k', OLD.id); END;
        CREATE TRIGGER kpi_campaigns_channel AFTER UPDATE OF channel ON campaigns BEGIN
            INSERT INTO kpi_dirty SELECT 'k', id FROM costs WHERE campaign_id = NEW.id; END;
        CREATE TRIGGER kpi_handovers_insert AFTER INSERT ON handovers BEGIN
            INSERT INTO kpi_dirty VALUES ('c', NEW.contact_id); END;
        CREATE TRIGGER kpi_handovers_segment AFTER UPDATE OF segment ON handovers BEGIN
            INSERT INTO kpi_dirty VALUES ('c', NEW.contact_id); END;
        """

    /// Notes the records new touches may change (the ingest calls this per batch instead of a
    /// trigger on every touch insert: a trigger makes SQLite keep a statement journal for each
    /// insert, which cost more than the insert itself). A sales touch can only change the first
    /// response of an assigned MQL that has none at or before it, or the day of the last sales
    /// action of a lead with sales (stale leads); a marketing touch only the
    /// first marketing touch of its contact's won deals closed at or after it.
    static func noteTouchesForKPIs(_ db: Database, sales: [(String, Timestamp)], marketing: [String: Int64]) throws {
        let salesNote = try db.cachedStatement(
            sql: """
                INSERT INTO kpi_dirty SELECT 'c', c.id FROM contacts c
                WHERE c.id = ?1 AND (
                  (c.became_mql_at IS NOT NULL AND c.assigned_at <= ?2
                   AND NOT EXISTS (SELECT 1 FROM kpi_facts f WHERE f.kind = 'c' AND f.id = ?1 AND f.responded_at <= ?2))
                  OR (c.lifecycle_stage IN ('mql', 'sal', 'sql')
                   AND NOT EXISTS (SELECT 1 FROM kpi_facts f WHERE f.kind = 'c' AND f.id = ?1 AND f.idle_until > ?2)))
                """
        )
        for (contact, at) in sales { try salesNote.execute(arguments: [contact, at.milliseconds]) }
        let marketingNote = try db.cachedStatement(
            sql: "INSERT INTO kpi_dirty SELECT 'd', opportunity_id FROM kpi_deal_contacts WHERE contact_id = ? AND won_closed_at >= ?"
        )
        for (contact, at) in marketing { try marketingNote.execute(arguments: [contact, at]) }
    }

    /// Drops the change triggers (inside an import's transaction).
    static func dropKPITriggers(_ db: Database) throws {
        for name in try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'kpi\\_%' ESCAPE '\\'") {
            try db.execute(sql: "DROP TRIGGER \(name)")
        }
    }

    /// Puts the triggers back and rebuilds every aggregate (the end of an import's transaction).
    func restoreKPITriggersAndRebuild(_ db: Database) throws {
        try db.execute(sql: Self.kpiTriggers)
        let settings = try Self.kpiSettings(db)
        let engine = try activeHandover(db)
        try rebuildKPIs(db, settings: settings, config: engine?.config)
        try db.cachedStatement(sql: "UPDATE kpi_state SET built_with = ? WHERE id = 1").execute(
            arguments: [Self.kpiBuildKey(settings, handoverVersion: engine?.version)]
        )
    }

    /// What the aggregates were built with; a different value (another time zone, response
    /// target or team layout) makes the next refresh rebuild them.
    /// The version of the derived facts and cells; a new one rebuilds stored aggregates on the
    /// next write (2: the funnel's stages, exits and sales idle days; 3, 4: month roll-ups).
    static let factsVersion = 4

    static func kpiBuildKey(_ s: KPISettings, handoverVersion: Int?) -> String {
        "facts=\(factsVersion);tz=\(s.calendar.timeZone.identifier);sla_ms=\(s.slaMs);handover=\(handoverVersion.map(String.init) ?? "-")"
    }

    /// The workspace's KPI settings (`workspace.timezone`, `kpi.sla_hours`).
    static func kpiSettings(_ db: Database) throws -> KPISettings {
        let tz = try String.fetchOne(db.cachedStatement(sql: "SELECT value FROM settings WHERE key = 'workspace.timezone'"))
        let sla = try String.fetchOne(db.cachedStatement(sql: "SELECT value FROM settings WHERE key = 'kpi.sla_hours'"))
        return KPISettings(
            calendar: KPICalendar(timeZone: tz.flatMap(TimeZone.init(identifier:)) ?? TimeZone(identifier: "UTC")!),
            slaHours: sla.flatMap(Double.init) ?? 24
        )
    }

    /// Brings the aggregates up to date with every change of this transaction (called before
    /// each write transaction commits). Rebuilds them when the settings they were built with
    /// changed.
    func refreshKPIs(_ db: Database) throws {
        let settings = try Self.kpiSettings(db)
        let engine = try activeHandover(db)
        let key = Self.kpiBuildKey(settings, handoverVersion: engine?.version)
        let built = try String.fetchOne(db.cachedStatement(sql: "SELECT built_with FROM kpi_state WHERE id = 1"))
        if built != key {
            try rebuildKPIs(db, settings: settings, config: engine?.config)
            try db.cachedStatement(sql: "UPDATE kpi_state SET built_with = ? WHERE id = 1").execute(arguments: [key])
            return
        }
        guard try Bool.fetchOne(db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM kpi_dirty)")) == true else { return }
        var delta = KPICellDelta()
        try KPIRefresh(db, settings: settings, config: engine?.config, incremental: true).run(into: &delta)
        try delta.write(db)
    }

    /// Recomputes every aggregate from the raw tables.
    func rebuildKPIs(_ db: Database, settings: KPISettings, config: HandoverConfig?) throws {
        try db.execute(
            sql: """
                DELETE FROM kpi_cells; DELETE FROM kpi_facts; DELETE FROM kpi_deal_contacts; DELETE FROM kpi_dirty;
                DELETE FROM kpi_months; DELETE FROM kpi_month_samples;
                INSERT INTO kpi_dirty SELECT 'c', id FROM contacts;
                INSERT INTO kpi_dirty SELECT 'd', id FROM opportunities;
                INSERT INTO kpi_dirty SELECT DISTINCT 'a', account_id FROM opportunities;
                INSERT INTO kpi_dirty SELECT 'k', id FROM costs;
                """
        )
        // Written in sorted chunks of ~1M cells (setting `kpi.rebuild_chunk_cells`), so a
        // rebuild's memory stays bounded whatever the workspace's size.
        let chunk = try String.fetchOne(db.cachedStatement(sql: "SELECT value FROM settings WHERE key = 'kpi.rebuild_chunk_cells'")).flatMap(Int.init)
        var delta = KPICellDelta(flushLimit: max(1, chunk ?? 1_000_000))
        try KPIRefresh(db, settings: settings, config: config, incremental: false).run(into: &delta)
        try delta.insertAll(db)
        try Self.rollUpMonths(db)
    }
}

/// The workspace's KPI settings.
public struct KPISettings: Sendable, Hashable {
    public var calendar: KPICalendar
    /// The response target behind `sla_compliance` (wall-clock hours).
    public var slaHours: Double

    public init(calendar: KPICalendar = KPICalendar(), slaHours: Double = 24) {
        self.calendar = calendar
        self.slaHours = slaHours
    }

    public var slaMs: Int64 { Int64((slaHours * 3_600_000).rounded()) }
}

/// Cell changes collected over a refresh and written at its end.
struct KPICellDelta {
    var cells: [KPIKey: KPITally] = [:]
    /// A rebuild writes its cells whenever there are more than this many (nil: at the end).
    var flushLimit: Int? = nil

    /// Writes the cells so far (adding to what is stored) when there are more than the limit.
    mutating func flushIfLarge(_ db: Database) throws {
        guard let flushLimit, cells.count > flushLimit else { return }
        try insertAll(db)
        cells.removeAll(keepingCapacity: true)
    }

    /// new − old straight into the accumulator (cells present in both cancel out there).
    mutating func add(from old: KPIContribution?, to new: KPIContribution?) {
        for (k, v) in new?.entries ?? [] { cells[k, default: KPITally()] = cells[k, default: KPITally()] + v }
        for (k, v) in old?.entries ?? [] { cells[k, default: KPITally()] = cells[k, default: KPITally()] - v }
    }

    /// Writes a rebuild's cells in key order, adding to cells an earlier chunk wrote (inserts in
    /// key order mostly append to the B-tree instead of searching for each).
    func insertAll(_ db: Database) throws {
        // Bound by hand: GRDB's argument arrays cost more than the insert itself at this volume.
        let insert = try RawStatement(
            db,
            """
            INSERT INTO kpi_cells(metric, dim, day, key, label, value, n, total) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(metric, dim, day, key, label, value) DO UPDATE SET n = n + excluded.n, total = total + excluded.total
            """
        )
        // SQLite's BINARY order: enum names by their bytes, then day, then key bytes (Swift's
        // String < is Unicode-aware and far slower, and orders differently).
        let metricRank = Dictionary(
            uniqueKeysWithValues: KPIMetric.allCases.sorted { $0.rawValue.utf8.lexicographicallyPrecedes($1.rawValue.utf8) }.enumerated().map { ($1, $0) }
        )
        let dimRank = Dictionary(
            uniqueKeysWithValues: KPIDimension.allCases.sorted { $0.rawValue.utf8.lexicographicallyPrecedes($1.rawValue.utf8) }.enumerated().map { ($1, $0) }
        )
        let rows = cells.filter { !$0.value.isZero }.map { (m: metricRank[$0.key.metric]!, d: dimRank[$0.key.dimension]!, cell: $0) }.sorted { a, b in
            if a.m != b.m { return a.m < b.m }
            if a.d != b.d { return a.d < b.d }
            let x = a.cell.key
            let y = b.cell.key
            if x.day != y.day { return x.day < y.day }
            if x.key != y.key { return x.key.utf8.lexicographicallyPrecedes(y.key.utf8) }
            if x.label != y.label { return x.label.utf8.lexicographicallyPrecedes(y.label.utf8) }
            return x.value < y.value
        }.map(\.cell)
        for (k, v) in rows {
            insert.bind(1, k.metric.rawValue)
            insert.bind(2, k.dimension.rawValue)
            insert.bind(3, k.day)
            insert.bind(4, k.key)
            insert.bind(5, k.label)
            insert.bind(6, k.value)
            insert.bind(7, v.count)
            insert.bind(8, v.total)
            _ = try insert.execute()
        }
        // (The month roll-ups are filled from the cells at the rebuild's end.)
        if !rows.isEmpty { try db.cachedStatement(sql: "UPDATE kpi_state SET version = version + 1 WHERE id = 1").execute() }
    }

    func write(_ db: Database) throws {
        // Bound by hand; RETURNING tells whether a cell fell to zero, so emptied cells are removed
        // without a second search for every negative delta.
        let upsert = try RawStatement(
            db,
            """
            INSERT INTO kpi_cells(metric, dim, day, key, label, value, n, total) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(metric, dim, day, key, label, value) DO UPDATE SET n = n + excluded.n, total = total + excluded.total
            RETURNING n = 0 AND total = 0
            """
        )
        let prune = try db.cachedStatement(
            sql: "DELETE FROM kpi_cells WHERE metric = ? AND dim = ? AND day = ? AND key = ? AND label = ? AND value = ? AND n = 0 AND total = 0"
        )
        var changed = false
        for (k, v) in cells where !v.isZero {
            upsert.bind(1, k.metric.rawValue)
            upsert.bind(2, k.dimension.rawValue)
            upsert.bind(3, k.day)
            upsert.bind(4, k.key)
            upsert.bind(5, k.label)
            upsert.bind(6, k.value)
            upsert.bind(7, v.count)
            upsert.bind(8, v.total)
            let emptied: Int64? = try upsert.firstRow { (row: RawStatement.Row) -> Int64 in row.int64(0) ?? 0 }
            if emptied == 1 { try prune.execute(arguments: [k.metric.rawValue, k.dimension.rawValue, k.day, k.key, k.label, k.value]) }
            changed = true
        }
        try KPIMonthDelta(cells).write(db)
        // Live dashboards poll this number (one row read) to know when to read the KPIs again.
        if changed { try db.cachedStatement(sql: "UPDATE kpi_state SET version = version + 1 WHERE id = 1").execute() }
    }
}

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
                       CASE WHEN c.assigned_at IS NOT NULL AND c.became_mql_at IS NOT NULL THEN
                         (SELECT min(t.occurred_at) FROM touchpoints t WHERE t.contact_id = c.id AND t.occurred_at >= c.assigned_at
                            AND t.actor_id IS NOT NULL AND t.type IN \(SQLiteStore.salesTouchTypes)) END,
                       c.became_sql_at, c.became_customer_at,
                       CASE WHEN c.lifecycle_stage IN ('recycled', 'disqualified') THEN coalesce(
                         (SELECT l.at || char(31) || coalesce(
                             (SELECT h.reason FROM handovers h WHERE h.contact_id = c.id AND h.status = 'rejected' AND h.closed_at >= l.at
                              ORDER BY h.id DESC LIMIT 1), c.recycle_reason, l.reason, '')
                          FROM lifecycle_transitions l WHERE l.contact_id = c.id AND l.to_stage = c.lifecycle_stage
                          ORDER BY l.at DESC, l.seq DESC LIMIT 1),
                         CASE WHEN c.recycled_at IS NOT NULL THEN c.recycled_at || char(31) || coalesce(c.recycle_reason, '') END) END,
                       CASE WHEN c.lifecycle_stage IN ('mql', 'sal', 'sql') THEN
                         (SELECT max(t.occurred_at) FROM touchpoints t WHERE t.contact_id = c.id
                            AND t.actor_id IS NOT NULL AND t.type IN \(SQLiteStore.salesTouchTypes)) END
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

/// The stored form of KPI facts: fields separated by U+001F (never in ids or names we accept
/// here; a value containing it would only make the stored facts differ, which forces a refresh).
enum KPIFactsCodec {
    static let sep: Character = "\u{1F}"

    static func t(_ x: Timestamp?) -> String { x.map { String($0.milliseconds) } ?? "" }
    static func i(_ x: Int64?) -> String { x.map { String($0) } ?? "" }
    static func ts(_ s: Substring) -> Timestamp? { Int64(s).map(Timestamp.init(milliseconds:)) }
    static func s(_ x: Substring) -> String? { x.isEmpty ? nil : String(x) }
    static let cutOrder: [KPIDimension] = [.channel, .campaign, .persona, .segment, .owner, .team]

    static func cuts(_ c: KPICuts) -> [String] { cutOrder.map { c[$0] } }
    static func cuts(_ f: ArraySlice<Substring>) -> KPICuts {
        var v: [KPIDimension: String?] = [:]
        for (d, x) in zip(cutOrder, f) { v[d] = String(x) }
        return KPICuts(v)
    }

    static func encode(_ c: ContactKPIFacts) -> String {
        ([
            t(c.createdAt), c.stage ?? "", t(c.becameLeadAt), t(c.mqlAt), t(c.salAt), t(c.opportunityAt), t(c.assignedAt), t(c.respondedAt),
            i(c.responseBusinessMs),
        ]
            + cuts(c.cuts) + [t(c.sqlAt), t(c.customerAt), t(c.exitAt), c.exitReason ?? "", t(c.lastSalesAt)]).joined(separator: String(sep))
    }

    static func contact(_ text: String) -> ContactKPIFacts? {
        let f = text.split(separator: sep, omittingEmptySubsequences: false)
        guard f.count == 20, let created = ts(f[0]) else { return nil }
        return ContactKPIFacts(
            createdAt: created,
            stage: s(f[1]),
            becameLeadAt: ts(f[2]),
            mqlAt: ts(f[3]),
            salAt: ts(f[4]),
            opportunityAt: ts(f[5]),
            assignedAt: ts(f[6]),
            respondedAt: ts(f[7]),
            responseBusinessMs: Int64(f[8]),
            cuts: cuts(f[9..<15]),
            sqlAt: ts(f[15]),
            customerAt: ts(f[16]),
            exitAt: ts(f[17]),
            exitReason: s(f[18]),
            lastSalesAt: ts(f[19])
        )
    }

    static func encode(_ d: DealKPIFacts) -> String {
        let won = d.isWon.map { $0 ? "1" : "0" } ?? ""
        return
            ([
                t(d.createdAt), t(d.closedAt), won, String(d.amountCents), i(d.expectedCloseDay), String(d.probabilityPercent), d.lostReason ?? "",
                t(d.firstMarketingTouchAt),
            ]
            + cuts(d.cuts)).joined(separator: String(sep))
    }

    static func deal(_ text: String) -> DealKPIFacts? {
        let f = text.split(separator: sep, omittingEmptySubsequences: false)
        guard f.count == 14, let created = ts(f[0]) else { return nil }
        return DealKPIFacts(
            createdAt: created,
            closedAt: ts(f[1]),
            isWon: f[2].isEmpty ? nil : f[2] == "1",
            amountCents: Int64(f[3]) ?? 0,
            expectedCloseDay: Int64(f[4]),
            probabilityPercent: Int64(f[5]) ?? 0,
            lostReason: s(f[6]),
            firstMarketingTouchAt: ts(f[7]),
            cuts: cuts(f[8...])
        )
    }

    static func encode(_ c: CostKPIFacts) -> String {
        [String(c.day), c.category, String(c.amountCents), c.campaign ?? "", c.channel ?? ""].joined(separator: String(sep))
    }

    static func cost(_ text: String) -> CostKPIFacts? {
        let f = text.split(separator: sep, omittingEmptySubsequences: false)
        guard f.count == 5, let day = Int64(f[0]) else { return nil }
        return CostKPIFacts(day: day, category: String(f[1]), amountCents: Int64(f[2]) ?? 0, campaign: s(f[3]), channel: s(f[4]))
    }
}
