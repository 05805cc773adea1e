import Foundation
import SmarketingCore

/// The KPI aggregates' shape and the reads' arithmetic, the same for both backends: which
/// metrics a period reads and rolls up by month, how a period splits into days and months, what
/// the aggregates were built with, how the report, the verification, the records behind a
/// figure and the facts export are put together from loaded rows.
enum KPIRules {
    /// Metrics read over a period (everything except the open-now cells).
    static let periodMetrics =
        KPIMetric.allCases.filter { $0 != .openOpportunities && !$0.isFunnel } + [.stageTime, .recycledReason, .disqualifiedReason]

    /// The metrics rolled up: those the KPI set reads over a period, and the sales-idle days its
    /// stale leads count before a cut-off.
    static let rolledUp = Set(periodMetrics + [.salesIdle])

    static let funnelPeriodMetrics: [KPIMetric] = [
        .funnelReached, .stageEntered, .stageTime, .recycledReason, .disqualifiedReason, .assigned, .responseInSLA,
    ]

    /// Months are numbered as `LocalDate.monthIndex`.
    static func month(ofDay day: Int64) -> Int64 { Int64(LocalDate(daysSinceEpoch: day).monthIndex) }

    static func firstDay(ofMonth m: Int64) -> Int64 { LocalDate(monthIndex: Int(m)).daysSinceEpoch }

    /// A period as its leading partial days, its whole months and its trailing partial days.
    static func split(_ p: KPIPeriod) -> (days: [(Int64, Int64)], months: (Int64, Int64)?) {
        var first = month(ofDay: p.fromDay)
        if firstDay(ofMonth: first) < p.fromDay { first += 1 }
        let last = month(ofDay: p.toDay)  // the month containing `to` is whole only up to `to`'s first day
        guard first < last, firstDay(ofMonth: first) < p.toDay else { return ([(p.fromDay, p.toDay)], nil) }
        var days: [(Int64, Int64)] = []
        if p.fromDay < firstDay(ofMonth: first) { days.append((p.fromDay, firstDay(ofMonth: first))) }
        if firstDay(ofMonth: last) < p.toDay { days.append((firstDay(ofMonth: last), p.toDay)) }
        return (days, (first, last))
    }

    /// The version of the derived facts and cells; a new one rebuilds stored aggregates on the
    /// next write (2: the funnel's stages, exits and sales idle days; 3, 4: month roll-ups).
    static let factsVersion = 4

    /// What the aggregates were built with; a different value (another time zone, response
    /// target or team layout) makes the next refresh rebuild them.
    /// What the aggregates are built with: the facts' version, the settings, and the active
    /// handover configuration's KPI layout (teams and calendars; not its version, so that a new
    /// configuration with the same layout rebuilds nothing).
    static func buildKey(_ s: KPISettings, handover config: HandoverConfig?) -> String {
        "facts=\(factsVersion);tz=\(s.calendar.timeZone.identifier);sla_ms=\(s.slaMs);layout=\(config.map { KPIHandoverLayout($0).key } ?? "-")"
    }

    /// How applying `new` over `old` reaches the aggregates: nil when they must be rebuilt (the
    /// fallback calendar changed), else the reps whose contacts and deals get new facts.
    static func handoverChange(from old: HandoverConfig?, to new: HandoverConfig) -> Set<String>? {
        let (owners, fallbackChanged) = KPIHandoverLayout.changes(from: KPIHandoverLayout(old), to: KPIHandoverLayout(new))
        return fallbackChanged ? nil : owners
    }

    /// The settings rows the KPIs read.
    static let settingsSQL = "SELECT key, value FROM settings WHERE key IN ('workspace.timezone', 'kpi.sla_hours', 'kpi.stale_days', 'kpi.rebuild_chunk_cells')"

    /// The workspace's KPI settings (`workspace.timezone`, `kpi.sla_hours`) from the settings rows.
    static func settings(_ values: [String: String]) -> KPISettings {
        // The one parse of the workspace settings (an unset or unparsable value reads as its default).
        let workspace = WorkspaceSettings(stored: values)
        return KPISettings(calendar: KPICalendar(timeZone: workspace.timeZone), slaHours: workspace.slaHours)
    }

    /// `kpi.stale_days`: stale = no sales action for more than this many days (default 14).
    static func staleDays(_ text: String?) -> Int {
        text.flatMap { try? WorkspaceSettingKey.staleDays.normalize($0).get() }.flatMap { Int($0) } ?? FunnelOptions().staleDays
    }

    static let targetsSQL = "SELECT period, metric, value, segment FROM targets"

    static func target(period: String, metric: String, value: Double, segment: String?) -> KPITarget? {
        let parts = period.split(separator: "-")
        guard parts.count == 2, let y = Int(parts[0]), let m = Int(parts[1]), (1...12).contains(m) else { return nil }
        return KPITarget(year: y, month: m, metric: metric, value: value, segment: segment)
    }

    /// The KPI report from the period's and the previous period's sums, the open pipeline, the
    /// stale leads and the targets.
    static func report(
        _ query: KPIQuery,
        settings: KPISettings,
        targets: [KPITarget],
        current: [KPIDimension: [String: KPICellSums]],
        previous: [KPIDimension: [String: KPICellSums]],
        open: [KPIDimension: [String: KPICellSums]],
        staleDays: Int,
        stale: [KPIDimension: [String: Int64]]?
    ) -> KPIReport {
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

    /// ROMI per model from the attribution of the period's won deals.
    static func romi(_ query: KPIQuery, _ reports: [AttributionCut: AttributionReport]) -> [KPIReport.ModelROMI]? {
        guard let channel = reports[.channel] else { return nil }
        let campaign = reports[.campaign]
        return channel.models.map { m in
            KPIReport.ModelROMI(
                model: m.model,
                revenueAttributed: m.revenueAttributed,
                marketingSpend: channel.marketingSpend,
                romi: m.romi,
                byChannel: query.by.contains(.channel) ? m.rows : nil,
                byCampaign: campaign?.models.first { $0.model == m.model }?.rows
            )
        }
    }

    /// The mismatches between stored and recomputed cells and month roll-ups.
    static func mismatches(
        stored: [KPIKey: KPITally],
        fresh: [KPIKey: KPITally],
        storedMonths: [String: (KPITally, String)],
        freshMonths: [String: (KPITally, String)]
    ) -> [KPIMismatch] {
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
            guard parts.count == 5 else { continue }
            let month = Int64(parts[2]) ?? 0
            mismatches.append(
                KPIMismatch(
                    metric: parts[0],
                    dimension: parts[1],
                    key: parts[3],
                    day: firstDay(ofMonth: month),
                    label: "month roll-up " + parts[4] + (a?.0 == b?.0 ? " (sample values differ)" : ""),
                    value: 0,
                    stored: KPITallyJSON(count: a?.0.count ?? 0, total: a?.0.total ?? 0),
                    recomputed: KPITallyJSON(count: b?.0.count ?? 0, total: b?.0.total ?? 0)
                )
            )
        }
        return mismatches
    }

    /// A month roll-up's comparable key.
    static func monthKey(_ metric: String, _ dim: String, _ month: Int64, _ key: String, _ label: String) -> String {
        [metric, dim, String(month), key, label].joined(separator: "|")
    }

    /// The kind code of the facts a metric counts.
    static func factsKind(_ metric: KPIMetric) -> String {
        switch metric.source {
        case .contacts: return "c"
        case .accounts: return "a"
        case .costs: return "k"
        default: return "d"
        }
    }

    /// A record's contribution from its stored facts.
    static func contribution(kind: String, facts text: String, settings: KPISettings) -> KPIContribution? {
        switch kind {
        case "c": return KPIFactsCodec.contact(text).map { KPIContribution.of($0, calendar: settings.calendar, slaMs: settings.slaMs) }
        case "d": return KPIFactsCodec.deal(text).map { KPIContribution.of($0, calendar: settings.calendar) }
        case "a": return KPIContribution.account(firstWonAt: Int64(text).map(Timestamp.init(milliseconds:)), calendar: settings.calendar)
        default: return KPIFactsCodec.cost(text).map(KPIContribution.of)
        }
    }

    /// The records behind a figure, from one record's facts (appended to `found`).
    static func records(
        id: String,
        kind: String,
        facts: String,
        settings: KPISettings,
        metric: KPIMetric,
        period: KPIPeriod,
        dimension: KPIDimension,
        key: String,
        label: String?,
        into found: inout [KPIRecord]
    ) {
        for (k, v) in contribution(kind: kind, facts: facts, settings: settings)?.entries ?? []
        where k.metric == metric && k.dimension == dimension && k.key == key && (label == nil || k.label == label)
            && (metric == .openOpportunities || (k.day >= period.fromDay && k.day < period.toDay))
        {
            found.append(
                KPIRecord(
                    resource: metric.source.rawValue,
                    id: id,
                    day: metric == .openOpportunities ? "now" : LocalDate(daysSinceEpoch: k.day).text,
                    label: k.label.isEmpty ? nil : k.label,
                    value: metric.isSample ? k.value : nil,
                    total: v.total == 0 ? nil : v.total
                )
            )
        }
    }

    static func recordPage(_ found: [KPIRecord], metric: KPIMetric, period: KPIPeriod, dimension: KPIDimension, key: String, limit: Int) -> KPIRecordPage {
        let sorted = found.sorted { ($0.day, $0.id) < ($1.day, $1.id) }
        return KPIRecordPage(
            metric: metric.rawValue,
            dimension: dimension.rawValue,
            key: key,
            from: period.from.text,
            to: period.to.text,
            count: sorted.count,
            data: Array(sorted.prefix(max(0, limit)))
        )
    }

    /// The header of `kind`'s facts export.
    static func factsHeader(_ kind: KPIFactsKind) -> [String] {
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

    static func factsCode(_ kind: KPIFactsKind) -> String {
        switch kind {
        case .contacts: return "c"
        case .opportunities: return "d"
        case .costs: return "k"
        }
    }

    /// One row of the facts export (nil: facts that do not decode).
    static func factsRow(_ kind: KPIFactsKind, id: String, facts text: String) -> [String]? {
        func t(_ x: Timestamp?) -> String { x?.iso8601 ?? "" }
        func day(_ x: Int64?) -> String { x.map { LocalDate(daysSinceEpoch: $0).text } ?? "" }
        let cuts: [KPIDimension] = [.channel, .campaign, .persona, .segment, .owner, .team]
        switch kind {
        case .contacts:
            guard let f = KPIFactsCodec.contact(text) else { return nil }
            return [
                id, t(f.createdAt), f.stage ?? "", t(f.leadAt), t(f.mqlAt), t(f.salAt), t(f.sqlAt), t(f.opportunityAt), t(f.customerAt),
                t(f.assignedAt), t(f.respondedAt), f.responseBusinessMs.map(String.init) ?? "", t(f.exitAt), f.exitReason ?? "",
                t(f.lastSalesAt),
            ] + cuts.map { f.cuts[$0] }
        case .opportunities:
            guard let f = KPIFactsCodec.deal(text) else { return nil }
            return [
                id, t(f.createdAt), t(f.closedAt), f.isWon.map { $0 ? "true" : "false" } ?? "", String(f.amountCents), day(f.expectedCloseDay),
                String(f.probabilityPercent), f.lostReason ?? "", t(f.firstMarketingTouchAt),
            ] + cuts.map { f.cuts[$0] }
        case .costs:
            guard let f = KPIFactsCodec.cost(text) else { return nil }
            return [id, day(f.day), f.category, String(f.amountCents), f.campaign ?? "", f.channel ?? ""]
        }
    }

    /// A conversion-killer path from a contact's facts and its marketing touches up to `until`
    /// (nil when the contact did not reach `stage` in `[start, end)`). `touches` is asked for the
    /// contact's touches up to a time: (type, content, campaign, channel).
    static func killerWindow(_ facts: ContactKPIFacts, stage: FunnelStage, start: Timestamp, end: Timestamp, now: Timestamp) -> (converted: Bool, until: Timestamp)? {
        let times = facts.stageTimes
        guard let at = times.first(where: { $0.stage == stage })?.at, at >= start, at < end, let furthest = facts.furthestStage else { return nil }
        let converted = furthest > stage
        return (converted, converted ? (times.first { $0.stage > stage }?.at ?? now) : now)
    }
}

/// The attribution reports from their inputs, the same for both backends.
enum AttributionRules {
    /// Look-back and half-life held to their ranges (every caller checks them; held here too,
    /// so that no conversion below can trap).
    static func clamp(lookbackDays: Int, halfLifeDays: Double) -> (Int, Double) {
        let lookback = min(max(lookbackDays, AttributionReport.lookbackRange.lowerBound), AttributionReport.lookbackRange.upperBound)
        let halfLife =
            halfLifeDays.isFinite
            ? min(max(halfLifeDays, AttributionReport.halfLifeRange.lowerBound), AttributionReport.halfLifeRange.upperBound)
            : Double(RuleAttribution.defaultHalfLife) / 86_400_000
        return (lookback, halfLife)
    }

    static func reports(
        period: KPIPeriod,
        cuts: [AttributionCut],
        models: [AttributionModel],
        inputs: AttributionInputs,
        lookbackDays: Int,
        halfLifeDays: Double
    ) -> [AttributionCut: AttributionReport] {
        var out: [AttributionCut: AttributionReport] = [:]
        for cut in cuts {
            out[cut] = AttributionReport.build(
                from: period.from.text,
                to: period.to.text,
                by: cut,
                models: models,
                deals: inputs.deals,
                journeys: inputs.journeys,
                spend: inputs.spend[cut] ?? [:],
                marketingSpend: inputs.marketingSpend,
                lookbackDays: lookbackDays,
                // (clamp() holds the half-life to its range; exactly: no trap whatever the input.)
                halfLife: Int64(exactly: (halfLifeDays * 86_400_000).rounded()) ?? RuleAttribution.defaultHalfLife
            )
        }
        return out
    }
}

extension KPIFactsKind {
    /// The header of this kind's facts export.
    public var header: [String] { KPIRules.factsHeader(self) }
}

extension KPIStore {
    /// The attribution reports of several cuts from one read of the inputs (both backends).
    public func attribution(
        period: KPIPeriod,
        by cuts: [AttributionCut],
        models: [AttributionModel],
        lookbackDays: Int = AttributionReport.defaultLookbackDays,
        halfLifeDays: Double = Double(RuleAttribution.defaultHalfLife) / 86_400_000
    ) async throws -> [AttributionCut: AttributionReport] {
        let (lookback, halfLife) = AttributionRules.clamp(lookbackDays: lookbackDays, halfLifeDays: halfLifeDays)
        let inputs = try await attributionInputs(period: period, lookbackDays: lookback, journeys: AttributionModel.needsJourneys(models) ? cuts : [])
        return AttributionRules.reports(period: period, cuts: cuts, models: models, inputs: inputs, lookbackDays: lookback, halfLifeDays: halfLife)
    }
}
