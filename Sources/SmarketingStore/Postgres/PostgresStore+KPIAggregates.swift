import Synchronization
import Foundation
import SmarketingCore

/// The incrementally maintained KPI aggregates on PostgreSQL: SQLite's design (triggers note
/// changed records in `kpi_dirty`; before the transaction commits their facts are derived again
/// by `KPIDerive`, their old contribution subtracted from the cells and the new one added, month
/// roll-ups alike), made safe for several writers:
///
/// - a transaction sees only its own dirty notes (others' are uncommitted), and refreshes those;
/// - the records it refreshes are locked first (advisory locks per record, sorted), so two
///   writers refreshing one contact take turns and the second subtracts what the first stored;
/// - cells change by increments (`n = n + …`), written in key order, so concurrent refreshes add
///   up and cannot deadlock on cells;
/// - a rebuild takes the KPI lock alone; refreshes hold it shared.
extension PostgresStore {
    /// Refreshes hold it shared; a rebuild (and the verification) alone.
    static let kpiLock: Int64 = 0x736D_6B5F_6B70_6973  // "smk_kpis"
    /// Advisory lock class of one record's KPI facts.
    static let kpiRecordClass: Int32 = 0x736D_6B66  // "smkf"

    static func kpiSettings(_ c: PGConn) async throws -> KPISettings {
        var values: [String: String] = [:]
        for r in try await c.rows(KPIRules.settingsSQL) { if let k = r.text(0), let v = r.text(1) { values[k] = v } }
        return KPIRules.settings(values)
    }

    /// Brings the aggregates up to date with this transaction's changes (called before every
    /// write transaction commits); rebuilds them when the settings they were built with changed.
    func refreshKPIs(_ c: PGConn) async throws {
        let start = telemetry.now
        guard let rebuilt = try await refreshKPIsIfNeeded(c) else { return }
        telemetry.kpiRefreshed(since: start, rebuild: rebuilt)
    }

    /// nil when nothing was to do; else whether the aggregates were rebuilt whole.
    private func refreshKPIsIfNeeded(_ c: PGConn) async throws -> Bool? {
        // One round trip for what every write needs to know: pending notes, what the aggregates
        // were built with, the settings and the active handover version.
        guard
            let state = try await c.one(
                """
                SELECT EXISTS (SELECT 1 FROM kpi_dirty), (SELECT built_with FROM kpi_state WHERE id = 1),
                  (SELECT string_agg(key || chr(31) || value, chr(30)) FROM settings
                   WHERE key IN ('workspace.timezone', 'kpi.sla_hours', 'kpi.stale_days', 'kpi.rebuild_chunk_cells')),
                  (SELECT version FROM handover_configs WHERE active = 1)
                """
            )
        else { return nil }
        var values: [String: String] = [:]
        for pair in (state.text(2) ?? "").split(separator: "\u{1E}") {
            let kv = pair.split(separator: "\u{1F}", maxSplits: 1, omittingEmptySubsequences: false)
            if kv.count == 2 { values[String(kv[0])] = String(kv[1]) }
        }
        let settings = KPIRules.settings(values)
        let version = state.int(3).map { Int(clamping: $0) }
        let config = handoverParser == nil || version == nil ? nil : try await activeHandover(c)
        let key = KPIRules.buildKey(settings, handover: config?.config)
        if state.text(1) != key {
            try await rebuildKPIs(c, settings: settings, config: config?.config)
            try await c.execute("UPDATE kpi_state SET built_with = ? WHERE id = 1", [.text(key)])
            return true
        }
        guard state.int(0) == 1 else { return nil }
        try await c.execute("SELECT pg_advisory_xact_lock_shared(?)", [.int(Self.kpiLock)])
        var delta = KPICellDelta()
        try await refreshDirty(c, settings: settings, config: config?.config, incremental: true, into: &delta)
        try await Self.write(c, delta)
        return false
    }

    /// Recomputes every aggregate from the raw tables (holding the KPI lock alone).
    func rebuildKPIs(_ c: PGConn, settings: KPISettings, config: HandoverConfig?) async throws {
        try await c.execute("SELECT pg_advisory_xact_lock(?)", [.int(Self.kpiLock)])
        for sql in [
            "DELETE FROM kpi_cells", "DELETE FROM kpi_facts", "DELETE FROM kpi_deal_contacts", "DELETE FROM kpi_dirty", "DELETE FROM kpi_months",
            "DELETE FROM kpi_month_samples", "INSERT INTO kpi_dirty SELECT 'c', id FROM contacts", "INSERT INTO kpi_dirty SELECT 'd', id FROM opportunities",
            "INSERT INTO kpi_dirty SELECT DISTINCT 'a', account_id FROM opportunities", "INSERT INTO kpi_dirty SELECT 'k', id FROM costs",
        ] {
            try await c.execute(sql)
        }
        // Fresh statistics first: after a bulk load the planner knows nothing of the new rows and
        // would plan the set-based derivation as if the tables were empty.
        try await c.script("ANALYZE kpi_dirty, contacts, opportunities, opportunity_contacts, touchpoints, handovers, lifecycle_transitions, costs")
        var delta = KPICellDelta()
        let report = rebuildProgress.withLock { $0 }?.call
        let total = report == nil ? 0 : Int(try await c.one("SELECT count(*) FROM contacts")?.int(0) ?? 0)
        // PostgreSQL derives each kind in a few set-based statements: progress is by phase.
        report?(RebuildProgress(phase: "contacts", done: 0, total: total))
        try await refreshContacts(c, settings: settings, config: config, incremental: false, into: &delta)
        report?(RebuildProgress(phase: "deals", done: total, total: total))
        try await refreshDeals(c, settings: settings, config: config, incremental: false, into: &delta)
        report?(RebuildProgress(phase: "accounts", done: total, total: total))
        try await refreshAccounts(c, settings: settings, incremental: false, into: &delta)
        report?(RebuildProgress(phase: "costs", done: total, total: total))
        try await refreshCosts(c, settings: settings, incremental: false, into: &delta)
        report?(RebuildProgress(phase: "writing", done: total, total: total))
        try await Self.writeFresh(c, delta)
    }

    /// A rebuild's cells and month roll-ups into the emptied tables, with COPY.
    static func writeFresh(_ c: PGConn, _ delta: KPICellDelta) async throws {
        let cells = delta.sortedCells()
        guard !cells.isEmpty else { return }
        try await c.copy(
            "kpi_cells",
            ["metric", "dim", "day", "key", "label", "value", "n", "total"],
            cells.map { k, v in
                [.text(k.metric.rawValue), .text(k.dimension.rawValue), .int(k.day), .text(k.key), .text(k.label), .int(k.value), .int(v.count), .int(v.total)]
            }
        )
        let months = KPIMonthDelta(delta.cells)
        try await c.copy(
            "kpi_months",
            ["metric", "dim", "month", "key", "label", "n", "total"],
            months.counters.filter { !$0.value.isZero }.map { k, v in
                [.text(k.metric.rawValue), .text(k.dim.rawValue), .int(k.month), .text(k.key), .text(k.label), .int(v.count), .int(v.total)]
            }
        )
        try await c.copy(
            "kpi_month_samples",
            ["metric", "dim", "month", "key", "n", "total", "samples"],
            months.samples.compactMap { k, change in
                let run = SortedRuns.apply([], change.changes)
                guard !change.tally.isZero || !run.isEmpty else { return nil }
                return [
                    .text(k.metric.rawValue), .text(k.dim.rawValue), .int(k.month), .text(k.key), .int(change.tally.count), .int(change.tally.total),
                    .bytes(SortedRuns.encode(run)),
                ]
            }
        )
        try await c.execute("UPDATE kpi_state SET version = version + 1 WHERE id = 1")
    }

    /// Derives the facts of the dirty records again: contacts, then deals (a contact's change can
    /// change its deals' cuts), accounts and costs.
    func refreshDirty(_ c: PGConn, settings: KPISettings, config: HandoverConfig?, incremental: Bool, into delta: inout KPICellDelta) async throws {
        try await refreshContacts(c, settings: settings, config: config, incremental: incremental, into: &delta)
        try await refreshDeals(c, settings: settings, config: config, incremental: incremental, into: &delta)
        try await refreshAccounts(c, settings: settings, incremental: incremental, into: &delta)
        try await refreshCosts(c, settings: settings, incremental: incremental, into: &delta)
    }

    /// The dirty ids of `kind`, their records locked (sorted) unless rebuilding.
    static func claimDirty(_ c: PGConn, _ kind: String, lock: Bool) async throws -> [String] {
        let ids = try await c.rows("SELECT DISTINCT id FROM kpi_dirty WHERE kind = ? ORDER BY id", [.text(kind)]).compactMap { $0.text(0) }
        if lock, !ids.isEmpty {
            try await c.execute(
                """
                SELECT count(pg_advisory_xact_lock(?::int, h)) FROM (
                  SELECT DISTINCT hashtext(? || i) AS h FROM unnest(?::text[]) AS u(i) ORDER BY 1 OFFSET 0) s
                """,
                [.int(Int64(kpiRecordClass)), .text(kind), .textArray(ids)]
            )
        }
        return ids
    }

    static func oldFacts(_ c: PGConn, _ kind: String, _ ids: [String], incremental: Bool) async throws -> [String: String] {
        guard incremental, !ids.isEmpty else { return [:] }
        var out: [String: String] = [:]
        for r in try await c.rows("SELECT id, facts FROM kpi_facts WHERE kind = ? AND id = ANY(?::text[])", [.text(kind), .textArray(ids)]) {
            if let id = r.text(0), let f = r.text(1) { out[id] = f }
        }
        return out
    }

    /// Replaces the stored facts of records (nil facts: the record is gone).
    static func storeFacts(_ c: PGConn, _ kind: String, _ rows: [(id: String, facts: String?, responded: Int64?, idle: Int64?)], fresh: Bool = false) async throws {
        if fresh {
            // A rebuild writes into the emptied table.
            try await c.copy(
                "kpi_facts",
                ["kind", "id", "facts", "responded_at", "idle_until"],
                rows.compactMap { r in r.facts.map { [.text(kind), .text(r.id), .text($0), .of(r.responded), .of(r.idle)] } }
            )
            return
        }
        let present = rows.filter { $0.facts != nil }
        let gone = rows.filter { $0.facts == nil }.map(\.id)
        for start in stride(from: 0, to: present.count, by: 5000) {
            let part = present[start..<min(start + 5000, present.count)]
            try await c.execute(
                """
                INSERT INTO kpi_facts(kind, id, facts, responded_at, idle_until)
                SELECT ?, * FROM unnest(?::text[], ?::text[], ?::bigint[], ?::bigint[])
                ON CONFLICT (kind, id) DO UPDATE SET facts = excluded.facts, responded_at = excluded.responded_at, idle_until = excluded.idle_until
                """,
                [
                    .text(kind), .textArray(part.map(\.id)), .textArray(part.map { $0.facts ?? "" }), nullableInts(part.map(\.responded)),
                    nullableInts(part.map(\.idle)),
                ]
            )
        }
        if !gone.isEmpty { try await c.execute("DELETE FROM kpi_facts WHERE kind = ? AND id = ANY(?::text[])", [.text(kind), .textArray(gone)]) }
    }

    /// A bigint[] parameter with NULLs (as an array literal: PGValue arrays are text).
    static func nullableInts(_ values: [Int64?]) -> PGValue {
        .text("{" + values.map { $0.map(String.init) ?? "NULL" }.joined(separator: ",") + "}")
    }

    /// The latest handover segment of each of `ids`.
    static func segments(_ c: PGConn, _ ids: [String]) async throws -> [String: String] {
        guard !ids.isEmpty else { return [:] }
        var out: [String: String] = [:]
        for r in try await c.rows("SELECT contact_id, segment FROM handovers WHERE contact_id = ANY(?::text[]) ORDER BY id", [.textArray(ids)]) {
            if let id = r.text(0) { out[id] = r.text(1) ?? KPIDimension.none }
        }
        return out
    }

    // MARK: Contacts

    func refreshContacts(_ c: PGConn, settings: KPISettings, config: HandoverConfig?, incremental: Bool, into delta: inout KPICellDelta) async throws {
        let ids = try await Self.claimDirty(c, "c", lock: incremental)
        guard !ids.isEmpty else { return }
        let scope = "SELECT id FROM kpi_dirty WHERE kind = 'c'"
        var firstDeal: [String: Int64] = [:]
        for sql in KPIDerive.firstDealSQL(scope: scope) {
            ScoringRows.earliest(try await c.rows(sql).compactMap { r in r.text(0).flatMap { id in r.int(1).map { (id, $0) } } }, into: &firstDeal)
        }
        let segment = try await Self.segments(c, ids)
        let old = try await Self.oldFacts(c, "c", ids, incremental: incremental)
        var found = Set<String>()
        var stored: [(id: String, facts: String?, responded: Int64?, idle: Int64?)] = []
        var changedCuts: [String] = []
        // A rebuild reads every contact's sales actions in one pass (see `salesActionsSQL`).
        var salesActions: [String: (first: Int64?, last: Int64?)] = [:]
        if !incremental {
            for r in try await c.rows(KPIDerive.salesActionsSQL(scope: scope)) {
                if let id = r.text(0) { salesActions[id] = (r.int(1), r.int(2)) }
            }
        }
        for r in try await c.rows(KPIDerive.contactSQL(scope: scope, salesActions: incremental)) {
            guard let id = r.text(0) else { continue }
            found.insert(id)
            let actions = incremental ? (first: r.int(12), last: r.int(17)) : (salesActions[id] ?? (first: nil, last: nil))
            let columns = KPIDerive.ContactColumns(
                createdAt: r.int(1) ?? 0,
                stage: r.text(2),
                becameLeadAt: r.int(3),
                mqlAt: r.int(4),
                salAt: r.int(5),
                opportunityAt: r.int(6),
                assignedAt: r.int(7),
                channel: r.text(8),
                campaign: r.text(9),
                persona: r.text(10),
                owner: r.text(11),
                respondedAt: actions.first,
                sqlAt: r.int(13),
                customerAt: r.int(14),
                exitAt: r.int(15),
                exitReason: r.text(16),
                lastSalesAt: actions.last
            )
            let facts = KPIDerive.contact(columns, firstDeal: firstDeal[id], segment: segment[id], config: config)
            let text = KPIFactsCodec.encode(facts)
            let before = old[id]
            if before == text { continue }
            let oldContribution = before.flatMap(KPIFactsCodec.contact).map { KPIContribution.of($0, calendar: settings.calendar, slaMs: settings.slaMs) }
            delta.add(from: oldContribution, to: KPIContribution.of(facts, calendar: settings.calendar, slaMs: settings.slaMs))
            let idleUntil = facts.salesIdleSince.map { settings.calendar.start(ofDay: settings.calendar.day($0.since) + 1) }
            stored.append((id, text, facts.respondedAt?.milliseconds, idleUntil?.milliseconds))
            if incremental { changedCuts.append(id) }
        }
        for (id, text) in old where !found.contains(id) {
            if let f = KPIFactsCodec.contact(text) { delta.add(from: KPIContribution.of(f, calendar: settings.calendar, slaMs: settings.slaMs), to: nil) }
            stored.append((id, nil, nil, nil))
            changedCuts.append(id)
        }
        try await Self.storeFacts(c, "c", stored, fresh: !incremental)
        // A deal takes its cuts and first marketing touch from its contacts.
        if !changedCuts.isEmpty {
            try await c.execute(
                "INSERT INTO kpi_dirty SELECT 'd', opportunity_id FROM kpi_deal_contacts WHERE contact_id = ANY(?::text[])",
                [.textArray(changedCuts)]
            )
        }
        try await c.execute("DELETE FROM kpi_dirty WHERE kind = 'c'")
    }

    // MARK: Deals

    func refreshDeals(_ c: PGConn, settings: KPISettings, config: HandoverConfig?, incremental: Bool, into delta: inout KPICellDelta) async throws {
        let ids = try await Self.claimDirty(c, "d", lock: incremental)
        guard !ids.isEmpty else { return }
        let scope = "SELECT id FROM kpi_dirty WHERE kind = 'd'"
        var deals: [String: KPIDerive.DealColumns] = [:]
        var order: [String] = []
        for r in try await c.rows(KPIDerive.dealSQL(scope: scope)) {
            guard let id = r.text(0) else { continue }
            order.append(id)
            deals[id] = KPIDerive.DealColumns(
                account: r.text(1) ?? "",
                created: Timestamp(milliseconds: r.int(2) ?? 0),
                closed: r.int(3).map(Timestamp.init(milliseconds:)),
                isWon: r.int(4).map { $0 != 0 },
                amount: r.double(5),
                expected: r.text(6),
                stage: r.text(7),
                lostReason: r.text(8),
                owner: r.text(9),
                primary: r.text(10)
            )
        }
        for r in try await c.rows("SELECT opportunity_id, contact_id FROM opportunity_contacts WHERE opportunity_id IN (\(scope)) ORDER BY opportunity_id, contact_id") {
            if let d = r.text(0), let contact = r.text(1) { deals[d]?.contacts.append(contact) }
        }
        let contactScope = """
            SELECT contact_id FROM opportunity_contacts WHERE opportunity_id IN (\(scope))
            UNION SELECT primary_contact_id FROM opportunities WHERE id IN (\(scope))
            """
        var people: [String: KPIDerive.Person] = [:]
        for r in try await c.rows("SELECT id, created_at, source_channel, source_campaign_id, persona_id FROM contacts WHERE id IN (\(contactScope))") {
            if let id = r.text(0) { people[id] = KPIDerive.Person(created: r.int(1) ?? 0, channel: r.text(2), campaign: r.text(3), persona: r.text(4)) }
        }
        let segment = try await Self.segments(c, Array(people.keys))
        // Which contacts each deal has now (for the marketing-touch notes and first touches).
        try await c.execute("DELETE FROM kpi_deal_contacts WHERE opportunity_id IN (\(scope))")
        var members: [String: [String]] = [:]
        var links: [(String, String, Int64?)] = []
        for id in order {
            guard let d = deals[id] else { continue }
            let list = KPIDerive.members(d, people: people)
            members[id] = list
            for contact in list { links.append((contact, id, KPIDerive.wonClose(d))) }
        }
        for start in stride(from: 0, to: links.count, by: 5000) {
            let part = links[start..<min(start + 5000, links.count)]
            try await c.execute(
                """
                INSERT INTO kpi_deal_contacts(contact_id, opportunity_id, won_closed_at)
                SELECT * FROM unnest(?::text[], ?::text[], ?::bigint[]) ON CONFLICT DO NOTHING
                """,
                [.textArray(part.map(\.0)), .textArray(part.map(\.1)), Self.nullableInts(part.map(\.2))]
            )
        }
        var firstTouch: [String: Int64] = [:]
        for r in try await c.rows(
            """
            SELECT dc.opportunity_id, min(t.occurred_at) FROM kpi_deal_contacts dc
            JOIN touchpoints t ON t.contact_id = dc.contact_id AND t.occurred_at <= dc.won_closed_at AND t.actor_id IS NULL
            WHERE dc.opportunity_id IN (\(scope)) AND dc.won_closed_at IS NOT NULL GROUP BY 1
            """
        ) {
            if let id = r.text(0), let t = r.int(1) { firstTouch[id] = t }
        }
        let old = try await Self.oldFacts(c, "d", ids, incremental: incremental)
        var stored: [(id: String, facts: String?, responded: Int64?, idle: Int64?)] = []
        for id in order {
            guard let d = deals[id] else { continue }
            let facts = KPIDerive.deal(d, members: members[id] ?? [], people: people, segment: segment, firstMarketingTouch: firstTouch[id], config: config)
            let text = KPIFactsCodec.encode(facts)
            if old[id] == text { continue }
            let before = old[id].flatMap(KPIFactsCodec.deal).map { KPIContribution.of($0, calendar: settings.calendar) }
            delta.add(from: before, to: KPIContribution.of(facts, calendar: settings.calendar))
            stored.append((id, text, nil, nil))
        }
        for (id, text) in old where deals[id] == nil {
            if let f = KPIFactsCodec.deal(text) { delta.add(from: KPIContribution.of(f, calendar: settings.calendar), to: nil) }
            stored.append((id, nil, nil, nil))
        }
        try await Self.storeFacts(c, "d", stored, fresh: !incremental)
        try await c.execute("DELETE FROM kpi_dirty WHERE kind = 'd'")
    }

    // MARK: Accounts and costs

    func refreshAccounts(_ c: PGConn, settings: KPISettings, incremental: Bool, into delta: inout KPICellDelta) async throws {
        let ids = try await Self.claimDirty(c, "a", lock: incremental)
        guard !ids.isEmpty else { return }
        var firstWon: [String: Int64] = [:]
        for r in try await c.rows(
            """
            SELECT account_id, min(closed_at) FROM opportunities
            WHERE account_id = ANY(?::text[]) AND is_won = 1 AND closed_at IS NOT NULL GROUP BY 1
            """,
            [.textArray(ids)]
        ) {
            if let id = r.text(0), let t = r.int(1) { firstWon[id] = t }
        }
        let old = try await Self.oldFacts(c, "a", ids, incremental: incremental)
        var stored: [(id: String, facts: String?, responded: Int64?, idle: Int64?)] = []
        for id in ids {
            let t = firstWon[id].map(Timestamp.init(milliseconds:))
            let text = t.map { String($0.milliseconds) }
            if old[id] == text { continue }
            let before = old[id].flatMap(Int64.init).map(Timestamp.init(milliseconds:))
            delta.add(
                from: KPIContribution.account(firstWonAt: before, calendar: settings.calendar),
                to: KPIContribution.account(firstWonAt: t, calendar: settings.calendar)
            )
            if text != nil || incremental { stored.append((id, text, nil, nil)) }
        }
        try await Self.storeFacts(c, "a", stored, fresh: !incremental)
        try await c.execute("DELETE FROM kpi_dirty WHERE kind = 'a'")
    }

    func refreshCosts(_ c: PGConn, settings: KPISettings, incremental: Bool, into delta: inout KPICellDelta) async throws {
        let ids = try await Self.claimDirty(c, "k", lock: incremental)
        guard !ids.isEmpty else { return }
        var now: [String: CostKPIFacts] = [:]
        for r in try await c.rows(
            """
            SELECT c.id, c.date, c.category, c.amount, c.campaign_id, cp.channel FROM costs c LEFT JOIN campaigns cp ON cp.id = c.campaign_id
            WHERE c.id = ANY(?::text[])
            """,
            [.textArray(ids)]
        ) {
            guard let id = r.text(0), let day = r.text(1).flatMap(LocalDate.parse) else { continue }
            now[id] = CostKPIFacts(day: day.daysSinceEpoch, category: r.text(2) ?? "", amountCents: Money.cents(r.double(3)), campaign: r.text(4), channel: r.text(5))
        }
        let old = try await Self.oldFacts(c, "k", ids, incremental: incremental)
        var stored: [(id: String, facts: String?, responded: Int64?, idle: Int64?)] = []
        for id in ids {
            let text = now[id].map(KPIFactsCodec.encode)
            if old[id] == text { continue }
            delta.add(from: old[id].flatMap(KPIFactsCodec.cost).map(KPIContribution.of), to: now[id].map(KPIContribution.of))
            if text != nil || incremental { stored.append((id, text, nil, nil)) }
        }
        try await Self.storeFacts(c, "k", stored, fresh: !incremental)
        try await c.execute("DELETE FROM kpi_dirty WHERE kind = 'k'")
    }

    // MARK: Writing cells and month roll-ups

    /// Adds a delta to the cells and the month roll-ups, in key order (so that concurrent
    /// refreshes lock cells in one order), removing cells that fall to zero.
    static func write(_ c: PGConn, _ delta: KPICellDelta) async throws {
        let cells = delta.cells.filter { !$0.value.isZero }.sorted { a, b in
            let (x, y) = (a.key, b.key)
            if x.metric != y.metric { return x.metric.rawValue.utf8.lexicographicallyPrecedes(y.metric.rawValue.utf8) }
            if x.dimension != y.dimension { return x.dimension.rawValue.utf8.lexicographicallyPrecedes(y.dimension.rawValue.utf8) }
            if x.day != y.day { return x.day < y.day }
            if x.key != y.key { return x.key.utf8.lexicographicallyPrecedes(y.key.utf8) }
            if x.label != y.label { return x.label.utf8.lexicographicallyPrecedes(y.label.utf8) }
            return x.value < y.value
        }
        guard !cells.isEmpty else { return }
        for start in stride(from: 0, to: cells.count, by: 5000) {
            let part = cells[start..<min(start + 5000, cells.count)]
            // (The delete of emptied cells is a statement of its own: a statement does not see
            // the rows its own data-modifying CTE changed.)
            let emptied = try await c.rows(
                """
                WITH up AS (
                  INSERT INTO kpi_cells(metric, dim, day, key, label, value, n, total)
                  SELECT * FROM unnest(?::text[], ?::text[], ?::bigint[], ?::text[], ?::text[], ?::bigint[], ?::bigint[], ?::bigint[])
                  ON CONFLICT (metric, dim, day, key, label, value) DO UPDATE SET n = kpi_cells.n + excluded.n, total = kpi_cells.total + excluded.total
                  RETURNING metric, dim, day, key, label, value, n, total)
                SELECT metric, dim, day, key, label, value FROM up WHERE n = 0 AND total = 0
                """,
                [
                    .textArray(part.map(\.key.metric.rawValue)), .textArray(part.map(\.key.dimension.rawValue)), .textArray(part.map { String($0.key.day) }),
                    .textArray(part.map(\.key.key)), .textArray(part.map(\.key.label)), .textArray(part.map { String($0.key.value) }),
                    .textArray(part.map { String($0.value.count) }), .textArray(part.map { String($0.value.total) }),
                ]
            )
            if !emptied.isEmpty {
                try await c.execute(
                    """
                    DELETE FROM kpi_cells k USING unnest(?::text[], ?::text[], ?::bigint[], ?::text[], ?::text[], ?::bigint[]) AS z(metric, dim, day, key, label, value)
                    WHERE k.metric = z.metric AND k.dim = z.dim AND k.day = z.day AND k.key = z.key AND k.label = z.label AND k.value = z.value
                      AND k.n = 0 AND k.total = 0
                    """,
                    (0..<6).map { i in .textArray(emptied.map { r in r.text(i) ?? r.int(i).map(String.init) ?? "" }) }
                )
            }
        }
        try await writeMonths(c, KPIMonthDelta(delta.cells))
        // Live dashboards poll this number to know when to read the KPIs again.
        try await c.execute("UPDATE kpi_state SET version = version + 1 WHERE id = 1")
    }

    static func writeMonths(_ c: PGConn, _ m: KPIMonthDelta) async throws {
        let counters = m.counters.filter { !$0.value.isZero }.sorted { a, b in
            (a.key.metric.rawValue, a.key.dim.rawValue, a.key.month, a.key.key, a.key.label) < (b.key.metric.rawValue, b.key.dim.rawValue, b.key.month, b.key.key, b.key.label)
        }
        for start in stride(from: 0, to: counters.count, by: 5000) {
            let part = counters[start..<min(start + 5000, counters.count)]
            let emptied = try await c.rows(
                """
                WITH up AS (
                  INSERT INTO kpi_months(metric, dim, month, key, label, n, total)
                  SELECT * FROM unnest(?::text[], ?::text[], ?::bigint[], ?::text[], ?::text[], ?::bigint[], ?::bigint[])
                  ON CONFLICT (metric, dim, month, key, label) DO UPDATE SET n = kpi_months.n + excluded.n, total = kpi_months.total + excluded.total
                  RETURNING metric, dim, month, key, label, n, total)
                SELECT metric, dim, month, key, label FROM up WHERE n = 0 AND total = 0
                """,
                [
                    .textArray(part.map(\.key.metric.rawValue)), .textArray(part.map(\.key.dim.rawValue)), .textArray(part.map { String($0.key.month) }),
                    .textArray(part.map(\.key.key)), .textArray(part.map(\.key.label)), .textArray(part.map { String($0.value.count) }),
                    .textArray(part.map { String($0.value.total) }),
                ]
            )
            if !emptied.isEmpty {
                try await c.execute(
                    """
                    DELETE FROM kpi_months k USING unnest(?::text[], ?::text[], ?::bigint[], ?::text[], ?::text[]) AS z(metric, dim, month, key, label)
                    WHERE k.metric = z.metric AND k.dim = z.dim AND k.month = z.month AND k.key = z.key AND k.label = z.label AND k.n = 0 AND k.total = 0
                    """,
                    (0..<5).map { i in .textArray(emptied.map { r in r.text(i) ?? r.int(i).map(String.init) ?? "" }) }
                )
            }
        }
        // Sample runs: read, changed and written back under the row's lock (a missing row is
        // created empty first, so two writers cannot both insert it).
        let samples = m.samples.filter { !$0.value.tally.isZero || $0.value.changes.contains { $0.value != 0 } }.sorted { a, b in
            (a.key.metric.rawValue, a.key.dim.rawValue, a.key.month, a.key.key) < (b.key.metric.rawValue, b.key.dim.rawValue, b.key.month, b.key.key)
        }
        for (k, change) in samples {
            let args: [PGValue] = [.text(k.metric.rawValue), .text(k.dim.rawValue), .int(k.month), .text(k.key)]
            try await c.execute(
                "INSERT INTO kpi_month_samples(metric, dim, month, key, n, total, samples) VALUES (?, ?, ?, ?, 0, 0, '\\x') ON CONFLICT DO NOTHING",
                args
            )
            let row = try await c.one(
                "SELECT n, total, samples FROM kpi_month_samples WHERE metric = ? AND dim = ? AND month = ? AND key = ? FOR UPDATE",
                args
            )
            let tally = KPITally(count: row?.int(0) ?? 0, total: row?.int(1) ?? 0) + change.tally
            let run = SortedRuns.apply(SortedRuns.decode(row?.bytes(2) ?? []), change.changes)
            if tally.isZero && run.isEmpty {
                try await c.execute("DELETE FROM kpi_month_samples WHERE metric = ? AND dim = ? AND month = ? AND key = ?", args)
            } else {
                try await c.execute(
                    "UPDATE kpi_month_samples SET n = ?, total = ?, samples = ? WHERE metric = ? AND dim = ? AND month = ? AND key = ?",
                    [.int(tally.count), .int(tally.total), .bytes(SortedRuns.encode(run))] + args
                )
            }
        }
    }
}
