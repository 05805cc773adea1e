import Foundation
import GRDB
import SmarketingCore

/// Reading the KPI set from the aggregates: a handful of index range reads per metric and cut,
/// proportional to the days and cut values asked for, never to the history.
extension SQLiteStore {
    /// Metrics read over a period (everything except the open-now cells).
    static let periodMetrics =
        KPIMetric.allCases.filter { $0 != .openOpportunities && !$0.isFunnel } + [.stageTime, .recycledReason, .disqualifiedReason]

    /// A number that grows with every committed change of the KPI aggregates.
    public func kpiVersion() async throws -> Int64 {
        try await pool.read { db in try Int64.fetchOne(db.cachedStatement(sql: "SELECT version FROM kpi_state WHERE id = 1")) ?? 0 }
    }

    /// The KPI set of `query`.
    public func kpis(_ query: KPIQuery) async throws -> KPIReport {
        var report = try await pool.read { db in try self.kpis(db, query) }
        guard !query.romiModels.isEmpty else { return report }
        // ROMI per model from the attribution of the period's won deals (default look-back and
        // half-life; one read of the inputs, one report per cut asked).
        let reports = try await attribution(
            period: query.period,
            by: query.by.contains(.campaign) ? [.channel, .campaign] : [.channel],
            models: query.romiModels
        )
        let channel = reports[.channel]!
        let campaign = reports[.campaign]
        report.romi = channel.models.map { m in
            KPIReport.ModelROMI(
                model: m.model,
                revenueAttributed: m.revenueAttributed,
                marketingSpend: channel.marketingSpend,
                romi: m.romi,
                byChannel: query.by.contains(.channel) ? m.rows : nil,
                byCampaign: campaign?.models.first { $0.model == m.model }?.rows
            )
        }
        return report
    }

    func kpis(_ db: Database, _ query: KPIQuery) throws -> KPIReport {
        let settings = try Self.kpiSettings(db)
        let targets = try Self.targets(db)
        let current = try Self.cellSums(db, query.period, by: query.by)
        let previous = try Self.cellSums(db, query.period.previous, by: query.by)
        let open = try Self.openSums(db, by: query.by)
        let staleDays = try Self.staleDays(db)
        let stale = try query.asOf.map { try Self.staleCounts(db, before: settings.calendar.olderThan(days: staleDays, asOf: $0), by: query.by) }
        func values(_ sums: [String: KPICellSums], _ key: String, _ dim: KPIDimension, _ p: KPIPeriod) -> KPIValues {
            let segment = dim == .segment ? key : nil
            let known = dim == .all || dim == .segment
            return KPIValues.compute(
                period: sums[key] ?? KPICellSums(),
                open: open[dim]?[key] ?? KPICellSums(),
                revenueTarget: known ? KPITarget.total(targets, metric: "revenue", period: p, segment: segment) : nil,
                mqlTarget: known ? KPITarget.total(targets, metric: "mqls", period: p, segment: segment) : nil,
                slaHours: settings.slaHours,
                customersKnown: dim == .all,
                staleLeads: p == query.period ? stale.map { KPIValues.StaleLeads(days: staleDays, count: $0[dim]?[key] ?? 0) } : nil
            )
        }
        func group(_ dim: KPIDimension, _ key: String) -> KPIReport.Group {
            KPIReport.Group(
                key: key,
                current: values(current[dim] ?? [:], key, dim, query.period),
                previous: values(previous[dim] ?? [:], key, dim, query.period.previous)
            )
        }
        var by: [String: [KPIReport.Group]] = [:]
        for dim in query.by {
            let keys = Set((current[dim] ?? [:]).keys).union((previous[dim] ?? [:]).keys).union((open[dim] ?? [:]).keys)
            by[dim.rawValue] = keys.sorted().map { group(dim, $0) }
        }
        return KPIReport(
            period: ReportPeriod(query.period, calendar: settings.calendar),
            previousPeriod: ReportPeriod(query.period.previous, calendar: settings.calendar),
            total: group(.all, "all"),
            by: by
        )
    }

    /// The period's cells per cut and cut value: whole months from the month roll-ups, the days
    /// of partial months from the day cells. Three statements per cut, no grouping in SQL (the
    /// sums are additive, so rows are added as they come).
    static func cellSums(_ db: Database, _ period: KPIPeriod, by: [KPIDimension]) throws -> [KPIDimension: [String: KPICellSums]] {
        let dayCells = try db.cachedStatement(sql: KPIReadSQL.dayCells)
        let counters = try db.cachedStatement(sql: KPIReadSQL.monthCounters)
        let samples = try db.cachedStatement(sql: KPIReadSQL.monthSamples)
        let metrics = KPIReadSQL.metrics
        let (days, months) = split(period)
        var out: [KPIDimension: [String: KPICellSums]] = [:]
        for dim in [KPIDimension.all] + by {
            var sums: [String: KPICellSums] = [:]
            for (from, to) in days {
                let rows = try Row.fetchCursor(dayCells, arguments: [dim.rawValue, from, to])
                while let r = try rows.next() {
                    guard let metric = metrics[r[0]] else { continue }
                    sums[r[1], default: KPICellSums()].add(metric, label: r[2], value: r[3], KPITally(count: r[4], total: r[5]))
                }
            }
            if let (first, last) = months {
                let rows = try Row.fetchCursor(counters, arguments: [dim.rawValue, first, last])
                while let r = try rows.next() {
                    guard let metric = metrics[r[0]] else { continue }
                    sums[r[1], default: KPICellSums()].add(metric, label: r[2], value: 0, KPITally(count: r[3], total: r[4]))
                }
                let blobs = try Row.fetchCursor(samples, arguments: [dim.rawValue, first, last])
                while let r = try blobs.next() {
                    guard let metric = metrics[r[0]] else { continue }
                    let run = try r.withUnsafeData(atIndex: 4) { data in data.map { d in d.withUnsafeBytes { SortedRuns.decode($0) } } ?? [] }
                    sums[r[1], default: KPICellSums()].add(metric, run: run, KPITally(count: r[2], total: r[3]))
                }
            }
            out[dim] = sums
        }
        return out
    }

    /// `kpi.stale_days`: stale = no sales action for more than this many days (default 14).
    static func staleDays(_ db: Database) throws -> Int {
        let text = try String.fetchOne(db.cachedStatement(sql: "SELECT value FROM settings WHERE key = 'kpi.stale_days'"))
        return text.flatMap(Int.init).flatMap { FunnelOptions.daysRange.contains($0) ? $0 : nil } ?? FunnelOptions().staleDays
    }

    /// Leads with sales idle since before `before` (a local day), per cut and cut value.
    /// (The months before `before`'s month from the roll-ups, its days from the day cells.)
    static func staleCounts(_ db: Database, before: Int64, by: [KPIDimension]) throws -> [KPIDimension: [String: Int64]] {
        let days = try db.cachedStatement(sql: "SELECT key, n FROM kpi_cells WHERE metric = 'sales_idle' AND dim = ? AND day >= ? AND day < ?")
        let months = try db.cachedStatement(sql: "SELECT key, n FROM kpi_months WHERE metric = 'sales_idle' AND dim = ? AND month < ?")
        let month = month(ofDay: before)
        var out: [KPIDimension: [String: Int64]] = [:]
        for dim in [KPIDimension.all] + by {
            let reads: [(Statement, StatementArguments)] = [(days, [dim.rawValue, firstDay(ofMonth: month), before]), (months, [dim.rawValue, month])]
            for (statement, arguments) in reads {
                let rows = try Row.fetchCursor(statement, arguments: arguments)
                while let r = try rows.next() { out[dim, default: [:]][r[0], default: 0] += r[1] as Int64 }
            }
        }
        return out
    }

    /// The open opportunities now, per cut and cut value.
    static func openSums(_ db: Database, by: [KPIDimension]) throws -> [KPIDimension: [String: KPICellSums]] {
        let statement = try db.cachedStatement(
            sql: "SELECT key, sum(n), sum(total) FROM kpi_cells WHERE metric = 'open_opportunities' AND dim = ? AND day = 0 GROUP BY key"
        )
        var out: [KPIDimension: [String: KPICellSums]] = [:]
        for dim in [KPIDimension.all] + by {
            let rows = try Row.fetchCursor(statement, arguments: [dim.rawValue])
            while let r = try rows.next() {
                out[dim, default: [:]][r[0], default: KPICellSums()].add(.openOpportunities, label: "", value: 0, KPITally(count: r[1], total: r[2]))
            }
        }
        return out
    }

    static func targets(_ db: Database) throws -> [KPITarget] {
        try Row.fetchAll(db.cachedStatement(sql: "SELECT period, metric, value, segment FROM targets")).compactMap { r in
            let period: String = r[0]
            let parts = period.split(separator: "-")
            guard parts.count == 2, let y = Int(parts[0]), let m = Int(parts[1]), (1...12).contains(m) else { return nil }
            return KPITarget(year: y, month: m, metric: r[1], value: r[2], segment: r[3])
        }
    }

    /// Recomputes every aggregate from the raw tables in a transaction that is rolled back, and
    /// compares the result cell by cell with the stored aggregates.
    public func verifyKPIs() async throws -> KPIVerification {
        let started = Date()
        return try await pool.writeWithoutTransaction { db in
            var result: KPIVerification?
            try db.inTransaction {
                try self.refreshKPIs(db)  // whatever is pending belongs to the stored state
                let stored = try Self.allCells(db)
                let storedMonths = try Self.allMonths(db)
                let engine = try self.activeHandover(db)
                try self.rebuildKPIs(db, settings: try Self.kpiSettings(db), config: engine?.config)
                let fresh = try Self.allCells(db)
                let freshMonths = try Self.allMonths(db)
                var mismatches: [KPIMismatch] = []
                for k in Set(stored.keys).union(fresh.keys).sorted() {
                    let a = stored[k] ?? KPITally()
                    let b = fresh[k] ?? KPITally()
                    guard a != b else { continue }
                    mismatches.append(
                        KPIMismatch(
                            metric: k.metric.rawValue,
                            dimension: k.dimension.rawValue,
                            key: k.key,
                            day: k.day,
                            label: k.label,
                            value: k.value,
                            stored: KPITallyJSON(count: a.count, total: a.total),
                            recomputed: KPITallyJSON(count: b.count, total: b.total)
                        )
                    )
                }
                // The month roll-ups must be exactly the roll-up of the day cells.
                for k in Set(storedMonths.keys).union(freshMonths.keys).sorted() {
                    let a = storedMonths[k]
                    let b = freshMonths[k]
                    guard a?.0 != b?.0 || a?.1 != b?.1 else { continue }
                    let parts = k.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
                    let month = Int64(parts[2]) ?? 0
                    mismatches.append(
                        KPIMismatch(
                            metric: parts[0],
                            dimension: parts[1],
                            key: parts[3],
                            day: Self.firstDay(ofMonth: month),
                            label: "month roll-up " + parts[4] + (a?.0 == b?.0 ? " (sample values differ)" : ""),
                            value: 0,
                            stored: KPITallyJSON(count: a?.0.count ?? 0, total: a?.0.total ?? 0),
                            recomputed: KPITallyJSON(count: b?.0.count ?? 0, total: b?.0.total ?? 0)
                        )
                    )
                }
                result = KPIVerification(
                    cells: stored.count,
                    recomputedCells: fresh.count,
                    mismatches: mismatches,
                    seconds: Date().timeIntervalSince(started)
                )
                return .rollback
            }
            return result!
        }
    }

    /// Rebuilds every aggregate from the raw tables (after changing settings outside the store,
    /// or to repair what `verifyKPIs` reports).
    public func rebuildKPIs() async throws {
        try await pool.write { db in
            let engine = try self.activeHandover(db)
            let settings = try Self.kpiSettings(db)
            try self.rebuildKPIs(db, settings: settings, config: engine?.config)
            try db.execute(
                sql: "UPDATE kpi_state SET built_with = ? WHERE id = 1",
                arguments: [Self.kpiBuildKey(settings, handoverVersion: engine?.version)]
            )
        }
    }

    /// The records behind a figure: every record whose contribution has a cell of `metric` under
    /// `dimension` = `key` in the period (for open opportunities: now), found by the same
    /// contribution function that fills the aggregates, so the list always matches the figure.
    public func kpiRecords(
        metric: KPIMetric,
        period: KPIPeriod,
        dimension: KPIDimension,
        key: String,
        label: String?,
        limit: Int
    ) async throws
        -> KPIRecordPage
    {
        try await pool.read { db in
            let settings = try Self.kpiSettings(db)
            let kind: String
            switch metric.source {
            case .contacts: kind = "c"
            case .accounts: kind = "a"
            case .costs: kind = "k"
            default: kind = "d"
            }
            var found: [KPIRecord] = []
            let rows = try Row.fetchCursor(db, sql: "SELECT id, facts FROM kpi_facts WHERE kind = ?", arguments: [kind])
            while let r = try rows.next() {
                let text: String = r[1]
                let contribution: KPIContribution?
                switch kind {
                case "c": contribution = KPIFactsCodec.contact(text).map { KPIContribution.of($0, calendar: settings.calendar, slaMs: settings.slaMs) }
                case "d": contribution = KPIFactsCodec.deal(text).map { KPIContribution.of($0, calendar: settings.calendar) }
                case "a": contribution = KPIContribution.account(firstWonAt: Int64(text).map(Timestamp.init(milliseconds:)), calendar: settings.calendar)
                default: contribution = KPIFactsCodec.cost(text).map(KPIContribution.of)
                }
                for (k, v) in contribution?.entries ?? []
                where k.metric == metric && k.dimension == dimension && k.key == key && (label == nil || k.label == label)
                    && (metric == .openOpportunities || (k.day >= period.fromDay && k.day < period.toDay))
                {
                    found.append(
                        KPIRecord(
                            resource: metric.source.rawValue,
                            id: r[0],
                            day: metric == .openOpportunities ? "now" : LocalDate(daysSinceEpoch: k.day).text,
                            label: k.label.isEmpty ? nil : k.label,
                            value: metric.isSample ? k.value : nil,
                            total: v.total == 0 ? nil : v.total
                        )
                    )
                }
            }
            found.sort { ($0.day, $0.id) < ($1.day, $1.id) }
            return KPIRecordPage(
                metric: metric.rawValue,
                dimension: dimension.rawValue,
                key: key,
                from: period.from.text,
                to: period.to.text,
                count: found.count,
                data: Array(found.prefix(limit))
            )
        }
    }

    static func allCells(_ db: Database) throws -> [KPIKey: KPITally] {
        var out: [KPIKey: KPITally] = [:]
        let rows = try Row.fetchCursor(db, sql: "SELECT metric, dim, key, day, label, value, n, total FROM kpi_cells")
        while let r = try rows.next() {
            guard let m = KPIMetric(rawValue: r[0]), let d = KPIDimension(rawValue: r[1]) else { continue }
            out[KPIKey(m, d, r[2], day: r[3], label: r[4], value: r[5])] = KPITally(count: r[6], total: r[7])
        }
        return out
    }
}

/// Which records' KPI facts to export.
public enum KPIFactsKind: String, Sendable, CaseIterable {
    case contacts, opportunities, costs
}

extension SQLiteStore {
    /// The header of `kind`'s facts export.
    public static func kpiFactsHeader(_ kind: KPIFactsKind) -> [String] {
        let cuts = ["channel", "campaign", "persona", "segment", "owner", "team"]
        switch kind {
        case .contacts:
            return [
                "id", "created_at", "stage", "lead_at", "mql_at", "sal_at", "sql_at", "opportunity_at", "customer_at", "assigned_at",
                "responded_at", "response_business_ms", "exit_at", "exit_reason", "last_sales_at",
            ] + cuts
        case .opportunities:
            return [
                "id", "created_at", "closed_at", "is_won", "amount_cents", "expected_close_date", "probability_percent", "lost_reason",
                "first_marketing_touch_at",
            ] + cuts
        case .costs: return ["id", "date", "category", "amount_cents", "campaign", "channel"]
        }
    }

    /// Streams the stored KPI facts of every record of `kind` — exactly what the aggregates are
    /// built from, one row per record in id order, instants in ISO 8601 UTC, dates as local
    /// dates of the workspace — to `row`. Returns the number of rows.
    @discardableResult
    public func kpiFacts(_ kind: KPIFactsKind, row: @Sendable ([String]) throws -> Void) async throws -> Int {
        try await pool.read { db in
            let code = ["contacts": "c", "opportunities": "d", "costs": "k"][kind.rawValue]!
            func t(_ x: Timestamp?) -> String { x?.iso8601 ?? "" }
            func day(_ x: Int64?) -> String { x.map { LocalDate(daysSinceEpoch: $0).text } ?? "" }
            let cuts: [KPIDimension] = [.channel, .campaign, .persona, .segment, .owner, .team]
            let rows = try Row.fetchCursor(db, sql: "SELECT id, facts FROM kpi_facts WHERE kind = ? ORDER BY id", arguments: [code])
            var n = 0
            while let r = try rows.next() {
                let id: String = r[0]
                let text: String = r[1]
                switch kind {
                case .contacts:
                    guard let f = KPIFactsCodec.contact(text) else { continue }
                    try row(
                        [
                            id, t(f.createdAt), f.stage ?? "", t(f.leadAt), t(f.mqlAt), t(f.salAt), t(f.sqlAt), t(f.opportunityAt), t(f.customerAt),
                            t(f.assignedAt), t(f.respondedAt), f.responseBusinessMs.map(String.init) ?? "", t(f.exitAt), f.exitReason ?? "",
                            t(f.lastSalesAt),
                        ] + cuts.map { f.cuts[$0] }
                    )
                case .opportunities:
                    guard let f = KPIFactsCodec.deal(text) else { continue }
                    try row(
                        [
                            id, t(f.createdAt), t(f.closedAt), f.isWon.map { $0 ? "true" : "false" } ?? "", String(f.amountCents), day(f.expectedCloseDay),
                            String(f.probabilityPercent), f.lostReason ?? "", t(f.firstMarketingTouchAt),
                        ] + cuts.map { f.cuts[$0] }
                    )
                case .costs:
                    guard let f = KPIFactsCodec.cost(text) else { continue }
                    try row([id, day(f.day), f.category, String(f.amountCents), f.campaign ?? "", f.channel ?? ""])
                }
                n += 1
            }
            return n
        }
    }
}

/// The KPI read's statements and metric names, built once.
enum KPIReadSQL {
    static func list(_ metrics: [KPIMetric]) -> String { metrics.map { "'\($0.rawValue)'" }.joined(separator: ", ") }
    static let counterMetrics = SQLiteStore.periodMetrics.filter { !$0.isSample }
    static let sampleMetrics = SQLiteStore.periodMetrics.filter(\.isSample)
    static let dayCells =
        "SELECT metric, key, label, value, n, total FROM kpi_cells WHERE metric IN (\(list(counterMetrics + sampleMetrics))) AND dim = ? AND day >= ? AND day < ?"
    static let monthCounters =
        "SELECT metric, key, label, n, total FROM kpi_months WHERE metric IN (\(list(counterMetrics))) AND dim = ? AND month >= ? AND month < ?"
    static let monthSamples =
        "SELECT metric, key, n, total, samples FROM kpi_month_samples WHERE metric IN (\(list(sampleMetrics))) AND dim = ? AND month >= ? AND month < ?"
    static let metrics = Dictionary(uniqueKeysWithValues: KPIMetric.allCases.map { ($0.rawValue, $0) })
}
