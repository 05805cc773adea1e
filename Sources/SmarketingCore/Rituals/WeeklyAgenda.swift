import Foundation

/// The agenda of a weekly sync, built from live figures (JSON schema `smarketing-agenda/1`,
/// documented in docs/RITUALS.md): the headline KPIs of the week and the quarter to date against
/// last week, last quarter and the targets; marketing's commitments beside sales' SLA; the
/// biggest leaks and conversion killers of the quarter so far; the leads sales rejected; the
/// unanswered handovers per owner; the open action items.
public struct WeeklyAgenda: Sendable, Equatable, Codable, ExplicitNullEncodable {
    /// One headline KPI in the four periods. Rates are shares (0…1), hours are hours, money is
    /// in the workspace currency.
    public struct KPIRow: Sendable, Equatable, Codable, ExplicitNullEncodable {
        public var key: String
        public var label: String
        /// `count`, `rate`, `hours`, `money` or `ratio`.
        public var unit: String
        public var week: Double?
        public var previousWeek: Double?
        public var quarterToDate: Double?
        public var lastQuarter: Double?
        /// The target of the whole quarter, where one is set (MQLs, won revenue).
        public var quarterTarget: Double?
        /// Whether more is better (false for response time and cost per MQL).
        public var higherIsBetter: Bool
        /// Who acts on it ("Sales · Sam Sales"), from the workspace's owners.
        public var owner: String? = nil
        /// `green`, `amber` or `red` for the week's value under the thresholds of `kpis.yaml`.
        public var status: String? = nil

        public init(
            key: String, label: String, unit: String, week: Double?, previousWeek: Double?, quarterToDate: Double?, lastQuarter: Double?,
            quarterTarget: Double?, higherIsBetter: Bool, owner: String? = nil, status: String? = nil
        ) {
            self.key = key
            self.label = label
            self.unit = unit
            self.week = week
            self.previousWeek = previousWeek
            self.quarterToDate = quarterToDate
            self.lastQuarter = lastQuarter
            self.quarterTarget = quarterTarget
            self.higherIsBetter = higherIsBetter
            self.owner = owner
            self.status = status
        }
    }

    /// Sales' side of the handover in the week and the quarter so far.
    public struct SLASide: Sendable, Equatable, Codable, ExplicitNullEncodable {
        public var slaHours: Double
        public var weekAssigned: Int64
        public var weekCompliance: Double?
        public var weekMedianResponseHours: Double?
        public var quarterCompliance: Double?
        public var quarterMedianResponseHours: Double?

        public init(
            slaHours: Double,
            weekAssigned: Int64,
            weekCompliance: Double?,
            weekMedianResponseHours: Double?,
            quarterCompliance: Double?,
            quarterMedianResponseHours: Double?
        ) {
            self.slaHours = slaHours
            self.weekAssigned = weekAssigned
            self.weekCompliance = weekCompliance
            self.weekMedianResponseHours = weekMedianResponseHours
            self.quarterCompliance = quarterCompliance
            self.quarterMedianResponseHours = quarterMedianResponseHours
        }
    }

    /// A conversion killer of the quarter so far.
    public struct Killer: Sendable, Equatable, Codable, ExplicitNullEncodable {
        public var kind: String
        public var value: String
        public var name: String?
        public var rateWith: Double?
        public var rateWithout: Double?
    }

    /// One owner's open handovers.
    public struct OwnerBacklog: Sendable, Equatable, Codable, ExplicitNullEncodable {
        public var ownerID: String
        public var ownerName: String?
        /// Open handovers (assigned or accepted, not yet qualified or closed).
        public var open: Int
        /// Assigned and not answered yet.
        public var unanswered: Int
        /// With a breached SLA clock still running.
        public var breached: Int
        /// The oldest assignment among the unanswered ones.
        public var oldestUnansweredAt: Timestamp?
    }

    /// An open handover as the backlog counts it.
    public struct OpenHandover: Sendable, Equatable {
        public var ownerID: String
        public var answered: Bool
        public var breached: Bool
        public var assignedAt: Timestamp?
        public init(ownerID: String, answered: Bool, breached: Bool, assignedAt: Timestamp?) {
            self.ownerID = ownerID
            self.answered = answered
            self.breached = breached
            self.assignedAt = assignedAt
        }
    }

    public var schema = "smarketing-agenda/1"
    public var week: String
    public var currency: String
    public var period: ReportPeriod
    public var previousWeek: ReportPeriod
    public var quarterToDate: ReportPeriod
    public var lastQuarter: ReportPeriod
    public var asOf: Timestamp
    public var kpis: [KPIRow]
    /// Marketing's commitments for the month the week ends in.
    public var commitments: [Commitment]
    public var sla: SLASide
    /// The funnel's findings for the quarter so far, biggest leaks first.
    public var leaks: [String]
    public var killers: [Killer]
    /// Leads recycled or disqualified in the week, per reason.
    public var rejections: [KPIValues.RejectionCount]
    /// Owners with open handovers, most unanswered first.
    public var backlog: [OwnerBacklog]
    /// Open action items, earliest due first; `overdue` names the ones past due.
    public var actionItems: [ActionItem]
    public var overdueItems: Int
    /// Changes that explain a jump in a curve: settings, scoring models, handover files in the quarter so far.
    public var changes: [ChangeNote]

    public init(
        week: String,
        currency: String,
        period: ReportPeriod,
        previousWeek: ReportPeriod,
        quarterToDate: ReportPeriod,
        lastQuarter: ReportPeriod,
        asOf: Timestamp,
        kpis: [KPIRow],
        commitments: [Commitment],
        sla: SLASide,
        leaks: [String],
        killers: [Killer],
        rejections: [KPIValues.RejectionCount],
        backlog: [OwnerBacklog],
        actionItems: [ActionItem],
        overdueItems: Int,
        changes: [ChangeNote]
    ) {
        self.week = week
        self.currency = currency
        self.period = period
        self.previousWeek = previousWeek
        self.quarterToDate = quarterToDate
        self.lastQuarter = lastQuarter
        self.asOf = asOf
        self.kpis = kpis
        self.commitments = commitments
        self.sla = sla
        self.leaks = leaks
        self.killers = killers
        self.rejections = rejections
        self.backlog = backlog
        self.actionItems = actionItems
        self.overdueItems = overdueItems
        self.changes = changes
    }

    /// How many leaks and killers an agenda lists.
    public static let topFindings = 5

    /// The periods of a week's agenda: the week and the one before, the quarter (fiscal, in the
    /// workspace's calendar) to the end of the week, the whole quarter and the quarter before.
    public struct Periods: Sendable, Equatable {
        public var week: KPIPeriod
        public var previousWeek: KPIPeriod
        public var quarterToDate: KPIPeriod
        public var quarter: KPIPeriod
        public var lastQuarter: KPIPeriod
    }

    public static func periods(_ week: AgendaWeek, settings: WorkspaceSettings) -> Periods {
        let w = week.period(sundayStart: settings.weekStartsOnSunday)
        let lastDay = w.to.adding(days: -1)
        let quarter = settings.fiscalQuarter(containing: lastDay)
        let lastQuarter = settings.fiscalQuarter(containing: quarter.from.adding(days: -1))
        return Periods(
            week: w,
            previousWeek: KPIPeriod(from: w.from.adding(days: -7), to: w.from),
            quarterToDate: KPIPeriod(from: quarter.from, to: w.to),
            quarter: quarter,
            lastQuarter: lastQuarter
        )
    }

    /// The headline KPI rows from the KPI sets of the four periods (total, uncut).
    public static func kpiRows(week: KPIValues, previousWeek: KPIValues, quarterToDate: KPIValues, lastQuarter: KPIValues, quarter: KPIValues) -> [KPIRow] {
        typealias Pick = (KPIValues) -> Double?
        let rows: [(String, String, String, Bool, Pick, Pick?)] = [
            ("mqls", "MQLs", "count", true, { Double($0.mqlVolume.mqls) }, { $0.mqlVolume.target }),
            ("mql_acceptance", "MQL accepted by sales", "rate", true, { $0.mqlAcceptance.rate }, nil),
            ("lead_to_opportunity", "MQL → opportunity", "rate", true, { $0.leadToOpportunity.mqlCohort.rate }, nil),
            ("lead_response_time", "Median response time", "hours", false, { $0.leadResponseTime.medianHours }, nil),
            ("sla_compliance", "SLA compliance", "rate", true, { $0.leadResponseTime.slaCompliance }, nil),
            ("win_rate", "Win rate", "rate", true, { $0.winRate.rate }, nil),
            ("won_revenue", "Won revenue", "money", true, { $0.dealVelocity.wonRevenue }, { $0.pipelineCoverage.revenueTarget }),
            ("pipeline_coverage", "Pipeline coverage", "ratio", true, { $0.pipelineCoverage.coverage }, nil),
            ("cost_per_mql", "Cost per MQL", "money", false, { $0.mqlVolume.costPerMql }, nil),
        ]
        return rows.map { key, label, unit, higher, pick, target in
            KPIRow(
                key: key,
                label: label,
                unit: unit,
                week: pick(week),
                previousWeek: pick(previousWeek),
                quarterToDate: pick(quarterToDate),
                lastQuarter: pick(lastQuarter),
                quarterTarget: target.flatMap { $0(quarter) },
                higherIsBetter: higher
            )
        }
    }

    /// The backlog per owner from the open handovers, most unanswered first (ties: most breached, then owner).
    public static func backlog(_ open: [OpenHandover], names: [String: String]) -> [OwnerBacklog] {
        var by: [String: OwnerBacklog] = [:]
        for h in open {
            var b = by[h.ownerID] ?? OwnerBacklog(ownerID: h.ownerID, ownerName: names[h.ownerID], open: 0, unanswered: 0, breached: 0)
            b.open += 1
            if !h.answered {
                b.unanswered += 1
                if let a = h.assignedAt, b.oldestUnansweredAt.map({ a < $0 }) ?? true { b.oldestUnansweredAt = a }
            }
            if h.breached { b.breached += 1 }
            by[h.ownerID] = b
        }
        return by.values.sorted { ($1.unanswered, $1.breached, $0.ownerID) < ($0.unanswered, $0.breached, $1.ownerID) }
    }

    /// The flagged killers, strongest first, at most `topFindings`.
    public static func killers(_ report: KillerReport) -> [Killer] {
        report.killers.prefix(topFindings).map { Killer(kind: $0.kind, value: $0.value, name: $0.name, rateWith: $0.rateWith, rateWithout: $0.rateWithout) }
    }
}

/// Something that changed how the figures are made, on the day it changed (an annotation on the
/// dashboard's series and a line in the agenda).
public struct ChangeNote: Sendable, Equatable, Codable, ExplicitNullEncodable {
    public var at: Timestamp
    /// `settings`, `scoring`, `handover`, `targets`.
    public var kind: String
    public var text: String
    public var by: String

    public init(at: Timestamp, kind: String, text: String, by: String) {
        self.at = at
        self.kind = kind
        self.text = text
        self.by = by
    }

    /// The note of an audit entry that changed the figures, nil for other entries.
    public static func from(action: String, resource: String, recordID: String, at: Timestamp, by: String, detail: String) -> ChangeNote? {
        switch (action, resource) {
        case ("settings.set", _): return ChangeNote(at: at, kind: "settings", text: "\(recordID) changed: \(detail)", by: by)
        case ("apply", "scoring_models"): return ChangeNote(at: at, kind: "scoring", text: "scoring model v\(recordID) applied", by: by)
        case ("apply", "handover_config"): return ChangeNote(at: at, kind: "handover", text: "handover configuration v\(recordID) applied", by: by)
        case ("apply", "kpi_configs"): return ChangeNote(at: at, kind: "kpis", text: "KPI file v\(recordID) applied", by: by)
        case ("create", "targets"), ("update", "targets"), ("delete", "targets"):
            return ChangeNote(at: at, kind: "targets", text: "target \(recordID) \(action)d", by: by)
        default: return nil
        }
    }
}

extension WorkspaceSettings {
    /// The fiscal quarter holding a day: three months from a month the fiscal year's start month
    /// is a multiple of three away from.
    public func fiscalQuarter(containing d: LocalDate) -> KPIPeriod {
        KPIPeriod.fiscalQuarter(containing: d, startMonth: fiscalYearStartMonth)
    }

    /// Today in the workspace's zone.
    public func today(_ now: Timestamp) -> LocalDate { LocalDate(daysSinceEpoch: KPICalendar(timeZone: timeZone).day(now)) }
}
