import Foundation
import PostgresNIO
import SmarketingCore
import Synchronization

/// Reading the KPI set, the funnel, the conversion killers and the attribution inputs on
/// PostgreSQL: the same aggregates and the same arithmetic (`KPIRules`) as on SQLite.
extension PostgresStore: KPIStore {
    /// The aggregates' version. Live views ask for it every 250 ms per viewer; on PostgreSQL the
    /// answer comes from this process's memory, read again from the database when the change feed
    /// (one LISTEN per process) reports a commit by any instance, and at least every 2 s should
    /// a notification be lost — so a hundred viewers cost no hundred queries.
    public func kpiVersion() async throws -> Int64 {
        startVersionWatcher()
        let now = DispatchTime.now().uptimeNanoseconds
        if let cached = versionCache.withLock({ $0 }), now - cached.at < 2_000_000_000 { return cached.value }
        return try await readVersion()
    }

    func readVersion() async throws -> Int64 {
        let at = DispatchTime.now().uptimeNanoseconds
        let v = try await reportRead { c in try await c.one("SELECT version FROM kpi_state WHERE id = 1")?.int(0) ?? 0 }
        versionCache.withLock { cached in
            if (cached?.at ?? 0) <= at { cached = (v, at) }
        }
        return v
    }

    func startVersionWatcher() {
        let start = versionWatcher.withLock { w -> Bool in
            if w { return false }
            w = true
            return true
        }
        guard start else { return }
        let stream = changes()
        Task { [weak self] in
            for await _ in stream {
                guard let self else { return }
                _ = try? await self.readVersion()
            }
        }
    }

    public func kpis(_ query: KPIQuery) async throws -> KPIReport {
        var report = try await reportRead { c -> KPIReport in
            // Two round trips: the settings and targets, then every cell the report sums (both
            // periods, every cut, open pipeline, stale leads) in one UNION ALL. A read is
            // dominated by round trips, not by the few thousand rows it sums.
            var values: [String: String] = [:]
            var targets: [KPITarget] = []
            for r in try await c.rows(
                "SELECT 0, key, value, NULL::text, NULL::float8 FROM (\(KPIRules.settingsSQL)) s UNION ALL SELECT 1, period, metric, segment, value FROM targets"
            ) {
                if r.int(0) == 0 {
                    if let k = r.text(1), let v = r.text(2) { values[k] = v }
                } else if let t = KPIRules.target(period: r.text(1) ?? "", metric: r.text(2) ?? "", value: r.double(4) ?? 0, segment: r.text(3)) {
                    targets.append(t)
                }
            }
            let settings = KPIRules.settings(values)
            let staleDays = KPIRules.staleDays(values["kpi.stale_days"])
            let staleBefore = query.asOf.map { settings.calendar.olderThan(days: staleDays, asOf: $0) }
            let cells = try await Self.reportCells(c, query, staleBefore: staleBefore)
            return KPIRules.report(
                query,
                settings: settings,
                targets: targets,
                current: cells.current,
                previous: cells.previous,
                open: cells.open,
                staleDays: staleDays,
                stale: cells.stale
            )
        }
        guard !query.romiModels.isEmpty else { return report }
        // ROMI per model from the attribution of the period's won deals (the workspace's
        // look-back and half-life; one read of the inputs, one report per cut asked).
        let defaults = try await workspaceSettings().settings
        let reports = try await attribution(
            period: query.period,
            by: query.by.contains(.campaign) ? [.channel, .campaign] : [.channel],
            models: query.romiModels,
            lookbackDays: defaults.lookbackDays,
            halfLifeDays: defaults.halfLifeDays
        )
        report.romi = KPIRules.romi(query, reports)
        return report
    }

    /// Every cell a KPI report sums, read in one statement: the periods' day cells and whole-month
    /// roll-ups (counters and samples), the open pipeline, and (with `staleBefore`) the stale leads.
    /// Month counters are summed over the period's months by the database (a third of the rows to
    /// send and decode for a quarter; the sums are what `KPICellSums.add` would make of them).
    static func reportCells(
        _ c: PGConn,
        _ query: KPIQuery,
        staleBefore: Int64?
    ) async throws -> (
        current: [KPIDimension: [String: KPICellSums]],
        previous: [KPIDimension: [String: KPICellSums]],
        open: [KPIDimension: [String: KPICellSums]],
        stale: [KPIDimension: [String: Int64]]?
    ) {
        let dims = PGValue.textArray(([KPIDimension.all] + query.by).map(\.rawValue))
        var parts: [String] = []
        var args: [PGValue] = []
        let counters = KPIReadSQL.list(KPIReadSQL.counterMetrics)
        let samples = KPIReadSQL.list(KPIReadSQL.sampleMetrics)
        // Columns: part, period (0 current, 1 previous), dim, metric, key, label, value, n, total, samples.
        for (index, period) in [query.period, query.period.previous].enumerated() {
            let (days, months) = KPIRules.split(period)
            for (from, to) in days {
                parts.append(
                    """
                    SELECT 0, \(index), dim, metric, key, label, value, n, total, NULL::bytea FROM kpi_cells
                    WHERE metric IN (\(counters), \(samples)) AND dim = ANY(?) AND day >= ? AND day < ?
                    """
                )
                args += [dims, .int(from), .int(to)]
            }
            if let (first, last) = months {
                parts.append(
                    """
                    SELECT 1, \(index), dim, metric, key, label, 0::bigint, sum(n)::bigint, sum(total)::bigint, NULL::bytea FROM kpi_months
                    WHERE metric IN (\(counters)) AND dim = ANY(?) AND month >= ? AND month < ? GROUP BY dim, metric, key, label
                    UNION ALL
                    SELECT 2, \(index), dim, metric, key, ''::text, 0::bigint, n, total, samples FROM kpi_month_samples
                    WHERE metric IN (\(samples)) AND dim = ANY(?) AND month >= ? AND month < ?
                    """
                )
                args += [dims, .int(first), .int(last), dims, .int(first), .int(last)]
            }
        }
        parts.append(
            """
            SELECT 3, 0, dim, 'open_opportunities'::text, key, ''::text, 0::bigint, sum(n)::bigint, sum(total)::bigint, NULL::bytea FROM kpi_cells
            WHERE metric = 'open_opportunities' AND dim = ANY(?) AND day = 0 GROUP BY dim, key
            """
        )
        args.append(dims)
        if let before = staleBefore {
            let month = KPIRules.month(ofDay: before)
            parts.append(
                """
                SELECT 4, 0, dim, metric, key, ''::text, 0::bigint, n, 0::bigint, NULL::bytea FROM kpi_cells
                WHERE metric = 'sales_idle' AND dim = ANY(?) AND day >= ? AND day < ?
                UNION ALL
                SELECT 4, 0, dim, metric, key, ''::text, 0::bigint, sum(n)::bigint, 0::bigint, NULL::bytea FROM kpi_months
                WHERE metric = 'sales_idle' AND dim = ANY(?) AND month < ? GROUP BY dim, metric, key
                """
            )
            args += [dims, .int(KPIRules.firstDay(ofMonth: month)), .int(before), dims, .int(month)]
        }
        let metrics = KPIReadSQL.metrics
        var current: [KPIDimension: [String: KPICellSums]] = [:]
        var previous: [KPIDimension: [String: KPICellSums]] = [:]
        var open: [KPIDimension: [String: KPICellSums]] = [:]
        var stale: [KPIDimension: [String: Int64]]? = staleBefore == nil ? nil : [:]
        for dim in [KPIDimension.all] + query.by {
            current[dim] = [:]
            previous[dim] = [:]
        }
        for r in try await c.rows(parts.joined(separator: "\nUNION ALL\n"), args) {
            guard let dim = r.text(2).flatMap(KPIDimension.init(rawValue:)), let metric = r.text(3).flatMap({ metrics[$0] }) else { continue }
            let key = r.text(4) ?? ""
            let tally = KPITally(count: r.int(7) ?? 0, total: r.int(8) ?? 0)
            switch r.int(0) {
            case 0, 1:
                if r.int(1) == 0 {
                    current[dim, default: [:]][key, default: KPICellSums()].add(metric, label: r.text(5) ?? "", value: r.int(6) ?? 0, tally)
                } else {
                    previous[dim, default: [:]][key, default: KPICellSums()].add(metric, label: r.text(5) ?? "", value: r.int(6) ?? 0, tally)
                }
            case 2:
                let run = SortedRuns.decode(r.bytes(9) ?? [])
                if r.int(1) == 0 {
                    current[dim, default: [:]][key, default: KPICellSums()].add(metric, run: run, tally)
                } else {
                    previous[dim, default: [:]][key, default: KPICellSums()].add(metric, run: run, tally)
                }
            case 3:
                open[dim, default: [:]][key, default: KPICellSums()].add(.openOpportunities, label: "", value: 0, tally)
            case 4:
                stale?[dim, default: [:]][key, default: 0] += tally.count
            default:
                continue
            }
        }
        return (current, previous, open, stale)
    }

    /// Recomputes every aggregate in a transaction that is rolled back (holding the KPI lock
    /// alone, so no refresh runs meanwhile) and compares with the stored aggregates.
    public func verifyKPIs() async throws -> KPIVerification {
        let started = Date()
        return try await gated {
            do {
                return try await client.withConnection(timeout: connectionWait) { connection in
                    let c = PGConn(connection: connection, logger: logger)
                    try await c.script("BEGIN")
                    do {
                        try await c.execute("SELECT pg_advisory_xact_lock(?)", [.int(Self.kpiLock)])
                        let stored = try await Self.allCells(c)
                        let storedMonths = try await Self.allMonths(c)
                        let engine = try await self.activeHandover(c)
                        try await self.rebuildKPIs(c, settings: try await Self.kpiSettings(c), config: engine?.config)
                        let fresh = try await Self.allCells(c)
                        let freshMonths = try await Self.allMonths(c)
                        try await c.script("ROLLBACK")
                        return KPIVerification(
                            cells: stored.count,
                            recomputedCells: fresh.count,
                            mismatches: KPIRules.mismatches(stored: stored, fresh: fresh, storedMonths: storedMonths, freshMonths: freshMonths),
                            seconds: Date().timeIntervalSince(started)
                        )
                    } catch {
                        try? await c.script("ROLLBACK")
                        throw error
                    }
                }
            } catch let e as StoreError {
                throw e
            } catch {
                throw Self.storeError(error)
            }
        }
    }

    public func rebuildKPIs() async throws {
        try await write { c in
            let engine = try await self.activeHandover(c)
            let settings = try await Self.kpiSettings(c)
            try await self.rebuildKPIs(c, settings: settings, config: engine?.config)
            try await c.execute("UPDATE kpi_state SET built_with = ? WHERE id = 1", [.text(KPIRules.buildKey(settings, handover: engine?.config))])
        }
    }

    static func allCells(_ c: PGConn) async throws -> [KPIKey: KPITally] {
        var out: [KPIKey: KPITally] = [:]
        for r in try await c.rows("SELECT metric, dim, key, day, label, value, n, total FROM kpi_cells") {
            guard let m = r.text(0).flatMap(KPIMetric.init(rawValue:)), let d = r.text(1).flatMap(KPIDimension.init(rawValue:)) else { continue }
            out[KPIKey(m, d, r.text(2) ?? "", day: r.int(3) ?? 0, label: r.text(4) ?? "", value: r.int(5) ?? 0)] = KPITally(count: r.int(6) ?? 0, total: r.int(7) ?? 0)
        }
        return out
    }

    static func allMonths(_ c: PGConn) async throws -> [String: (KPITally, String)] {
        var out: [String: (KPITally, String)] = [:]
        for r in try await c.rows("SELECT metric, dim, month, key, label, n, total FROM kpi_months") {
            out[KPIRules.monthKey(r.text(0) ?? "", r.text(1) ?? "", r.int(2) ?? 0, r.text(3) ?? "", r.text(4) ?? "")] = (
                KPITally(count: r.int(5) ?? 0, total: r.int(6) ?? 0), ""
            )
        }
        for r in try await c.rows("SELECT metric, dim, month, key, n, total, samples FROM kpi_month_samples") {
            out[KPIRules.monthKey(r.text(0) ?? "", r.text(1) ?? "", r.int(2) ?? 0, r.text(3) ?? "", "(samples)")] = (
                KPITally(count: r.int(4) ?? 0, total: r.int(5) ?? 0), Data(r.bytes(6) ?? []).base64EncodedString()
            )
        }
        return out
    }

    public func kpiRecords(metric: KPIMetric, period: KPIPeriod, dimension: KPIDimension, key: String, label: String?, limit: Int) async throws -> KPIRecordPage {
        try await reportRead { c in
            let settings = try await Self.kpiSettings(c)
            let kind = KPIRules.factsKind(metric)
            var found: [KPIRecord] = []
            for r in try await c.rows("SELECT id, facts FROM kpi_facts WHERE kind = ?", [.text(kind)]) {
                KPIRules.records(
                    id: r.text(0) ?? "",
                    kind: kind,
                    facts: r.text(1) ?? "",
                    settings: settings,
                    metric: metric,
                    period: period,
                    dimension: dimension,
                    key: key,
                    label: label,
                    into: &found
                )
            }
            return KPIRules.recordPage(found, metric: metric, period: period, dimension: dimension, key: key, limit: limit)
        }
    }

    /// Streams the stored KPI facts of every record of `kind` (see `SQLiteStore.kpiFacts`).
    @discardableResult
    public func kpiFacts(_ kind: KPIFactsKind, row: @Sendable ([String]) throws -> Void) async throws -> Int {
        try await reportRead { c in
            var n = 0
            for r in try await c.rows("SELECT id, facts FROM kpi_facts WHERE kind = ? ORDER BY id", [.text(KPIRules.factsCode(kind))]) {
                guard let line = KPIRules.factsRow(kind, id: r.text(0) ?? "", facts: r.text(1) ?? "") else { continue }
                try row(line)
                n += 1
            }
            return n
        }
    }

    // MARK: Funnel

    public func funnel(period: KPIPeriod, by: KPIDimension, options: FunnelOptions, now: Timestamp) async throws -> FunnelReport {
        try await reportRead { c in
            let settings = try await Self.kpiSettings(c)
            let calendar = settings.calendar
            var sums: [KPIDimension: [String: FunnelSums]] = [:]
            let dims = by == .all ? [KPIDimension.all] : [.all, by]
            for dim in dims {
                var out: [String: FunnelSums] = [:]
                let reads: [(KPIMetric, Int64, Int64)] =
                    KPIRules.funnelPeriodMetrics.map { ($0, period.fromDay, period.toDay) } + [
                        (.inStage, Int64.min, calendar.olderThan(days: options.stuckDays, asOf: now)),
                        (.salesIdle, Int64.min, calendar.olderThan(days: options.staleDays, asOf: now)),
                    ]
                for (metric, from, to) in reads {
                    for r in try await c.rows(
                        """
                        SELECT key, label, value, sum(n), sum(total) FROM kpi_cells
                        WHERE metric = ? AND dim = ? AND day >= ? AND day < ? GROUP BY key, label, value
                        """,
                        [.text(metric.rawValue), .text(dim.rawValue), .int(from), .int(to)]
                    ) {
                        out[r.text(0) ?? "", default: FunnelSums()].add(
                            metric,
                            label: r.text(1) ?? "",
                            value: r.int(2) ?? 0,
                            KPITally(count: r.int(3) ?? 0, total: r.int(4) ?? 0)
                        )
                    }
                }
                sums[dim] = out
            }
            return FunnelReport.build(
                period: ReportPeriod(period, calendar: calendar),
                asOf: now.iso8601,
                by: by,
                total: sums[.all]?["all"] ?? FunnelSums(),
                groups: by == .all ? [:] : sums[by] ?? [:],
                options: options,
                slaHours: settings.slaHours
            )
        }
    }

    public func conversionKillers(period: KPIPeriod, from stage: FunnelStage, options: KillerOptions, now: Timestamp) async throws -> KillerReport {
        try await reportRead { c in
            let calendar = try await Self.kpiSettings(c).calendar
            let start = calendar.start(ofDay: period.fromDay)
            let end = calendar.start(ofDay: period.toDay)
            var campaignChannel: [String: String] = [:]
            var names: [KillerFeature: String] = [:]
            for r in try await c.rows("SELECT id, channel, name FROM campaigns") {
                guard let id = r.text(0) else { continue }
                campaignChannel[id] = r.text(1)
                names[KillerFeature(.campaign, id)] = r.text(2)
            }
            for r in try await c.rows("SELECT id, title FROM content") { if let id = r.text(0) { names[KillerFeature(.content, id)] = r.text(1) } }
            // The step's candidates by the stored stage instant (filtered by the server), then
            // the touches of all of them in one statement, in the step's order. LATERAL keeps the
            // per-contact index probes: with the cohort's size known the planner would otherwise
            // hash-join against every touchpoint (6 s at 1M instead of 3 s).
            let instant = KPIFactsCodec.stageInstantSQL(stage)
            var ids: [String] = []
            var untils: [Int64] = []
            var converted: [Bool] = []
            for r in try await c.rows(
                "SELECT id, facts FROM kpi_facts WHERE kind = 'c' AND \(instant) >= ? AND \(instant) < ? ORDER BY id",
                [.int(start.milliseconds), .int(end.milliseconds)]
            ) {
                guard let id = r.text(0), let facts = KPIFactsCodec.contact(r.text(1) ?? ""),
                    let (isConverted, until) = KPIRules.killerWindow(facts, stage: stage, start: start, end: end, now: now)
                else { continue }
                ids.append(id)
                untils.append(until.milliseconds)
                converted.append(isConverted)
            }
            var features = [Set<KillerFeature>](repeating: [], count: ids.count)
            var channels = [[String]](repeating: [], count: ids.count)
            var counts = [Int](repeating: 0, count: ids.count)
            for t in try await c.rows(
                """
                SELECT w.i, t.type, t.content_id, t.campaign_id, t.channel
                FROM unnest(?::text[], ?::bigint[]) WITH ORDINALITY AS w(id, until, i)
                CROSS JOIN LATERAL (
                    SELECT type, content_id, campaign_id, channel FROM touchpoints
                    WHERE contact_id = w.id AND occurred_at <= w.until AND actor_id IS NULL ORDER BY occurred_at, id
                ) t
                """,
                [.textArray(ids), .intArray(untils)]
            ) {
                guard let ordinal = t.int(0), ordinal >= 1, ordinal <= Int64(ids.count) else { continue }
                let i = Int(ordinal) - 1
                counts[i] += 1
                features[i].insert(KillerFeature(.type, t.text(1) ?? ""))
                if let content = t.text(2) { features[i].insert(KillerFeature(.content, content)) }
                let campaign = t.text(3)
                if let campaign { features[i].insert(KillerFeature(.campaign, campaign)) }
                channels[i].append(PathTouch.channel(own: t.text(4), campaign: campaign, campaignChannels: campaignChannel) ?? KPIDimension.none)
            }
            let paths = ids.indices.map { KillerPath(converted: converted[$0], features: features[$0], touches: counts[$0], channels: channels[$0]) }
            return KillerReport.build(period: ReportPeriod(period, calendar: calendar), asOf: now.iso8601, from: stage, paths: paths, names: names, options: options)
        }
    }

    // MARK: Attribution

    public func attribution(
        period: KPIPeriod,
        by: AttributionCut,
        models: [AttributionModel],
        lookbackDays: Int,
        halfLifeDays: Double
    ) async throws -> AttributionReport {
        let reports = try await attribution(period: period, by: [by], models: models, lookbackDays: lookbackDays, halfLifeDays: halfLifeDays)
        guard let report = reports[by] else { throw StoreError.invalid("no attribution report for \(by)") }
        return report
    }


    public func attributionInputs(period: KPIPeriod, lookbackDays: Int, journeys: [AttributionCut]) async throws -> AttributionInputs {
        try await reportRead { c in
            let settings = try await Self.kpiSettings(c)
            let from = settings.calendar.start(ofDay: period.fromDay).milliseconds
            let to = settings.calendar.start(ofDay: period.toDay).milliseconds
            var campaignChannel: [String: String] = [:]
            for r in try await c.rows("SELECT id, channel FROM campaigns") { if let id = r.text(0) { campaignChannel[id] = r.text(1) } }
            func touch(_ r: PGRow, contact: String) -> PathTouch {
                let campaign = r.text(3)
                return PathTouch(
                    id: r.text(0) ?? "",
                    at: Timestamp(milliseconds: r.int(1) ?? 0),
                    contact: contact,
                    channel: PathTouch.channel(own: r.text(2), campaign: campaign, campaignChannels: campaignChannel),
                    campaign: campaign,
                    content: r.text(4)
                )
            }
            var deals: [DealPath] = []
            let lookback = Int64(lookbackDays) * 86_400_000
            for r in try await c.rows(
                "SELECT id, amount, created_at, closed_at, primary_contact_id FROM opportunities WHERE is_won = 1 AND closed_at >= ? AND closed_at < ? ORDER BY id",
                [.int(from), .int(to)]
            ) {
                guard let id = r.text(0), let closed = r.int(3) else { continue }
                var contacts = try await c.rows("SELECT contact_id FROM opportunity_contacts WHERE opportunity_id = ? ORDER BY contact_id", [.text(id)])
                    .compactMap { $0.text(0) }
                if let p = r.text(4), !contacts.contains(p) { contacts.append(p) }
                var path: [PathTouch] = []
                var leads: [String: Timestamp] = [:]
                for contact in contacts {
                    guard let l = try await c.one("SELECT coalesce(became_lead_at, created_at) FROM contacts WHERE id = ?", [.text(contact)])?.int(0) else { continue }
                    leads[contact] = Timestamp(milliseconds: l)
                    for t in try await c.rows(
                        """
                        SELECT id, occurred_at, channel, campaign_id, content_id FROM touchpoints
                        WHERE contact_id = ? AND occurred_at >= ? AND occurred_at <= ? AND actor_id IS NULL ORDER BY occurred_at, id
                        """,
                        [.text(contact), .int(closed - lookback), .int(closed)]
                    ) { path.append(touch(t, contact: contact)) }
                }
                deals.append(
                    DealPath(
                        dealID: id,
                        amountCents: Money.cents(r.double(1)),
                        createdAt: Timestamp(milliseconds: r.int(2) ?? 0),
                        closedAt: Timestamp(milliseconds: closed),
                        touches: path,
                        leadTimes: leads
                    )
                )
            }
            var list = JourneyAggregate(cuts: journeys)
            if !journeys.isEmpty {
                let converted = try await Self.reached(.opportunity, c)
                var current: String?
                var path: [PathTouch] = []
                func flush() {
                    guard let contact = current, let last = path.last else { return }
                    let conv = converted[contact]
                    let end = conv ?? last.at.milliseconds
                    if end >= from - lookback && end < to { list.add(ContactJourney(touches: path, convertedAt: conv.map(Timestamp.init(milliseconds:)))) }
                }
                try await c.forEachRow(
                    "SELECT id, occurred_at, channel, campaign_id, content_id, contact_id FROM touchpoints WHERE actor_id IS NULL ORDER BY contact_id, occurred_at, id"
                ) { r in
                    let contact = r.text(5) ?? ""
                    if contact != current {
                        flush()
                        current = contact
                        path.removeAll(keepingCapacity: true)
                    }
                    path.append(touch(r, contact: contact))
                }
                flush()
            }
            var spend: [AttributionCut: [String: Double]] = [:]
            var total = 0.0
            let cells = "SELECT key, sum(total) FROM kpi_cells WHERE metric = 'spend_marketing' AND dim = ? AND day >= ? AND day < ? GROUP BY key"
            for (cut, dim) in [(AttributionCut.campaign, "campaign"), (.channel, "channel")] {
                for r in try await c.rows(cells, [.text(dim), .int(period.fromDay), .int(period.toDay)]) {
                    spend[cut, default: [:]][r.text(0) ?? ""] = Money.amount(r.int(1) ?? 0)
                }
            }
            for r in try await c.rows(cells, [.text("all"), .int(period.fromDay), .int(period.toDay)]) { total += Money.amount(r.int(1) ?? 0) }
            return AttributionInputs(deals: deals, journeys: list, spend: spend, marketingSpend: total)
        }
    }
}
