import Foundation
import GRDB
import SmarketingCore

/// The funnel and its leaks from the same incremental aggregates as the KPIs: the period's
/// cohort, stage entries and stage times read over its days; stuck and stale leads read as the
/// open-stage cells before their cut-off day (a snapshot of now).
extension SQLiteStore {
    static let funnelPeriodMetrics = KPIRules.funnelPeriodMetrics

    public func funnel(period: KPIPeriod, by: KPIDimension, options: FunnelOptions, now: Timestamp) async throws -> FunnelReport {
        try await pool.read { db in
            let settings = try Self.kpiSettings(db)
            let calendar = settings.calendar
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
                        (.inStage, Int64.min, calendar.olderThan(days: options.stuckDays, asOf: now)),
                        (.salesIdle, Int64.min, calendar.olderThan(days: options.staleDays, asOf: now)),
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
}

extension SQLiteStore {
    /// The conversion killers of one step: the contacts that reached `from` in the period (by
    /// the same facts as the funnel), each with the marketing touches of its path up to its
    /// next stage (or up to `now` if it has not moved on). Reads every contact's stored facts and
    /// the touches of the step's contacts — an analysis, not a dashboard read.
    public func conversionKillers(period: KPIPeriod, from stage: FunnelStage, options: KillerOptions, now: Timestamp) async throws -> KillerReport {
        try await pool.read { db in
            let calendar = try Self.kpiSettings(db).calendar
            let start = calendar.start(ofDay: period.fromDay)
            let end = calendar.start(ofDay: period.toDay)
            var campaignChannel: [String: String] = [:]
            var names: [KillerFeature: String] = [:]
            for r in try Row.fetchAll(db, sql: "SELECT id, channel, name FROM campaigns") {
                campaignChannel[r[0]] = r[1]
                names[KillerFeature(.campaign, r[0])] = r[2]
            }
            for r in try Row.fetchAll(db, sql: "SELECT id, title FROM content") { names[KillerFeature(.content, r[0])] = r[1] }
            let touches = try RawStatement(
                db,
                """
                SELECT occurred_at, type, content_id, campaign_id, channel FROM touchpoints
                WHERE contact_id = ? AND actor_id IS NULL AND occurred_at <= ? ORDER BY occurred_at, id
                """
            )
            let (from, to) = (start.milliseconds, end.milliseconds)
            // The step's contacts first (one pass over the stored facts, decoding only those whose
            // stage instant is in the period), then their touches.
            var windows: [(id: String, converted: Bool, until: Int64)] = []
            try RawStatement(db, "SELECT id, facts FROM kpi_facts WHERE kind = 'c'").forEachRow { r in
                let inPeriod = r.withBytes(1) { KPIFactsCodec.stageInstant($0, stage: stage) }.map { $0 >= from && $0 < to } ?? false
                guard inPeriod, let id = r.text(0), let facts = r.text(1).flatMap(KPIFactsCodec.contact),
                    let (converted, until) = KPIRules.killerWindow(facts, stage: stage, start: start, end: end, now: now)
                else { return }
                windows.append((id, converted, until.milliseconds))
            }
            var paths: [KillerPath] = []
            paths.reserveCapacity(windows.count)
            for w in windows {
                var features = Set<KillerFeature>()
                var channels: [String] = []
                var count = 0
                touches.bind(1, w.id)
                touches.bind(2, w.until)
                try touches.forEachRow { t in
                    count += 1
                    features.insert(KillerFeature(.type, t.text(1) ?? ""))
                    if let content = t.text(2) { features.insert(KillerFeature(.content, content)) }
                    let campaign = t.text(3)
                    if let campaign { features.insert(KillerFeature(.campaign, campaign)) }
                    channels.append(PathTouch.channel(own: t.text(4), campaign: campaign, campaignChannels: campaignChannel) ?? KPIDimension.none)
                }
                paths.append(KillerPath(converted: w.converted, features: features, touches: count, channels: channels))
            }
            return KillerReport.build(
                period: ReportPeriod(period, calendar: calendar),
                asOf: now.iso8601,
                from: stage,
                paths: paths,
                names: names,
                options: options
            )
        }
    }
}
