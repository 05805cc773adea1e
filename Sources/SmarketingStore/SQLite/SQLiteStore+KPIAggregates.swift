import Synchronization
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
/// `kpi_cells` and adds the new one (`KPIRefresh`, `KPICellDelta`; month roll-ups in
/// SQLiteStore+KPIMonths). `kpi_dirty` has no unique key on purpose: a trigger's `OR IGNORE` is
/// overridden by the conflict clause of the statement that fired it (e.g. an upsert of the
/// importer), so duplicates are allowed and read with DISTINCT / IN. A rebuild is the same
/// refresh with every record dirty, so the incremental and the from-scratch path share one
/// derivation; `verifyKPIs` runs a rebuild in a transaction it rolls back and compares.
extension SQLiteStore {
    /// The core's sales activity types as an SQL list.
    static let salesTouchTypes = KPIDerive.salesTouchTypes

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
            arguments: [Self.kpiBuildKey(settings, handover: engine?.config)]
        )
    }

    /// What the aggregates were built with; a different value (another time zone, response
    /// target or team layout) makes the next refresh rebuild them.
    /// The version of the derived facts and cells; a new one rebuilds stored aggregates on the
    /// next write (2: the funnel's stages, exits and sales idle days; 3, 4: month roll-ups).
    static let factsVersion = KPIRules.factsVersion

    static func kpiBuildKey(_ s: KPISettings, handover: HandoverConfig?) -> String { KPIRules.buildKey(s, handover: handover) }

    /// The workspace's KPI settings (`workspace.timezone`, `kpi.sla_hours`).
    static func kpiSettings(_ db: Database) throws -> KPISettings {
        var values: [String: String] = [:]
        for r in try Row.fetchAll(db.cachedStatement(sql: KPIRules.settingsSQL)) { values[r[0]] = r[1] }
        return KPIRules.settings(values)
    }

    /// Brings the aggregates up to date with every change of this transaction (called before
    /// each write transaction commits). Rebuilds them when the settings they were built with
    /// changed.
    func refreshKPIs(_ db: Database) throws {
        let start = telemetry.now
        guard let rebuilt = try refreshKPIsIfNeeded(db) else { return }
        telemetry.kpiRefreshed(since: start, rebuild: rebuilt)
    }

    /// nil when nothing was to do; else whether the aggregates were rebuilt whole.
    private func refreshKPIsIfNeeded(_ db: Database) throws -> Bool? {
        let settings = try Self.kpiSettings(db)
        let engine = try activeHandover(db)
        let key = Self.kpiBuildKey(settings, handover: engine?.config)
        let built = try String.fetchOne(db.cachedStatement(sql: "SELECT built_with FROM kpi_state WHERE id = 1"))
        if built != key {
            try rebuildKPIs(db, settings: settings, config: engine?.config)
            try db.cachedStatement(sql: "UPDATE kpi_state SET built_with = ? WHERE id = 1").execute(arguments: [key])
            return true
        }
        guard try Bool.fetchOne(db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM kpi_dirty)")) == true else { return nil }
        var delta = KPICellDelta()
        try KPIRefresh(db, settings: settings, config: engine?.config, incremental: true).run(into: &delta)
        try delta.write(db)
        return false
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
        var refresh = KPIRefresh(db, settings: settings, config: config, incremental: false)
        if let report = rebuildProgress.withLock({ $0 })?.call {
            let total = try Int.fetchOne(db, sql: "SELECT count(*) FROM contacts") ?? 0
            report(RebuildProgress(phase: "contacts", done: 0, total: total))
            refresh.progress = { phase, done in report(RebuildProgress(phase: phase, done: phase == "contacts" ? done : total, total: total)) }
        }
        try refresh.run(into: &delta)
        refresh.progress?("writing", 0)
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
