import Foundation
import GRDB
import SmarketingCore

/// The funnel and its leaks from the same incremental aggregates as the KPIs: the period's
/// cohort, stage entries and stage times read over its days; stuck and stale leads read as the
/// open-stage cells before their cut-off day (a snapshot of now).
extension SQLiteStore {
    static let funnelPeriodMetrics: [KPIMetric] = [
        .funnelReached, .stageEntered, .stageTime, .recycledReason, .disqualifiedReason, .assigned, .responseInSLA,
    ]

    public func funnel(period: KPIPeriod, by: KPIDimension, options: FunnelOptions, now: Timestamp) async throws -> FunnelReport {
        try await pool.read { db in
            let settings = try Self.kpiSettings(db)
            let calendar = settings.calendar
            let today = calendar.day(now)
            let ranged = try db.cachedStatement(
                sql: """
                    SELECT key, label, value, sum(n), sum(total) FROM kpi_cells
                    WHERE metric = ? AND dim = ? AND day >= ? AND day < ? GROUP BY key, label, value
                    """
            )
            var sums: [KPIDimension: [String: FunnelSums]] = [:]
            let dims = by == .all ? [KPIDimension.all] : [.all, by]
            for dim in dims {
                var out: [String: FunnelSums] = [:]
                let reads: [(KPIMetric, Int64, Int64)] =
                    Self.funnelPeriodMetrics.map { ($0, period.fromDay, period.toDay) } + [
                        // Older than N days: entered (or last worked) before today − N.
                        (.inStage, Int64.min, today - Int64(options.stuckDays)),
                        (.salesIdle, Int64.min, today - Int64(options.staleDays)),
                    ]
                for (metric, from, to) in reads {
                    let rows = try Row.fetchCursor(ranged, arguments: [metric.rawValue, dim.rawValue, from, to])
                    while let r = try rows.next() {
                        out[r[0], default: FunnelSums()].add(metric, label: r[1], value: r[2], KPITally(count: r[3], total: r[4]))
                    }
                }
                sums[dim] = out
            }
            return FunnelReport.build(
                period: .init(from: period.from.text, to: period.to.text, timeZone: calendar.timeZone.identifier),
                asOf: now.iso8601,
                by: by,
                total: sums[.all]?["all"] ?? FunnelSums(),
                groups: by == .all ? [:] : sums[by] ?? [:],
                options: options,
                slaHours: settings.slaHours
            )
        }
    }
}
