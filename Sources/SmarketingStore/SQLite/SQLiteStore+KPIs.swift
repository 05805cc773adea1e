import Foundation
import GRDB
import SmarketingCore

/// Reading the KPI set from the aggregates: a handful of index range reads per metric and cut,
/// proportional to the days and cut values asked for, never to the history.
extension SQLiteStore {
    /// Metrics read over a period (everything except the open-now cells).
    static let periodMetrics = KPIRules.periodMetrics

    /// A number that grows with every committed change of the KPI aggregates.
    public func kpiVersion() async throws -> Int64 {
        try await pool.read { db in try Int64.fetchOne(db.cachedStatement(sql: "SELECT version FROM kpi_state WHERE id = 1")) ?? 0 }
    }

    /// The KPI set of `query`.
    public func kpis(_ query: KPIQuery) async throws -> KPIReport {
        var report = try await pool.read { db in try self.kpis(db, query) }
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

    func kpis(_ db: Database, _ query: KPIQuery) throws -> KPIReport {
        let settings = try Self.kpiSettings(db)
        let targets = try Self.targets(db)
        let current = try Self.cellSums(db, query.period, by: query.by)
        let previous = try Self.cellSums(db, query.period.previous, by: query.by)
        let open = try Self.openSums(db, by: query.by)
        let staleDays = try Self.staleDays(db)
        let stale = try query.asOf.map { try Self.staleCounts(db, before: settings.calendar.olderThan(days: staleDays, asOf: $0), by: query.by) }
        return KPIRules.report(
            query,
            settings: settings,
            targets: targets,
            current: current,
            previous: previous,
            open: open,
            staleDays: staleDays,
            stale: stale
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
        KPIRules.staleDays(try String.fetchOne(db.cachedStatement(sql: "SELECT value FROM settings WHERE key = 'kpi.stale_days'")))
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
        try Row.fetchAll(db.cachedStatement(sql: KPIRules.targetsSQL)).compactMap { r in
            KPIRules.target(period: r[0], metric: r[1], value: r[2], segment: r[3])
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
                let mismatches = KPIRules.mismatches(stored: stored, fresh: fresh, storedMonths: storedMonths, freshMonths: freshMonths)
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
                arguments: [Self.kpiBuildKey(settings, handover: engine?.config)]
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
            let kind = KPIRules.factsKind(metric)
            var found: [KPIRecord] = []
            let rows = try Row.fetchCursor(db, sql: "SELECT id, facts FROM kpi_facts WHERE kind = ?", arguments: [kind])
            while let r = try rows.next() {
                KPIRules.records(
                    id: r[0],
                    kind: kind,
                    facts: r[1],
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
    public static func kpiFactsHeader(_ kind: KPIFactsKind) -> [String] { KPIRules.factsHeader(kind) }

    /// Streams the stored KPI facts of every record of `kind` — exactly what the aggregates are
    /// built from, one row per record in id order, instants in ISO 8601 UTC, dates as local
    /// dates of the workspace — to `row`. Returns the number of rows.
    @discardableResult
    public func kpiFacts(_ kind: KPIFactsKind, row: @Sendable ([String]) throws -> Void) async throws -> Int {
        try await pool.read { db in
            let rows = try Row.fetchCursor(db, sql: "SELECT id, facts FROM kpi_facts WHERE kind = ? ORDER BY id", arguments: [KPIRules.factsCode(kind)])
            var n = 0
            while let r = try rows.next() {
                guard let line = KPIRules.factsRow(kind, id: r[0], facts: r[1]) else { continue }
                try row(line)
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
