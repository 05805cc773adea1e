/// The additive quantities the KPIs are built from. Every KPI is a ratio, a sum or a percentile
/// of these, read over the days of a period, so they can be kept up to date one record at a time:
/// a record's contribution is a pure function of its facts, and a change is "subtract the old
/// contribution, add the new one".
public enum KPIMetric: String, Sendable, CaseIterable, Hashable, Codable {
    /// Hashes the case, not its raw text (see `KPIDimension.hash(into:)`).
    public func hash(into hasher: inout Hasher) { EnumCase.hash(self, into: &hasher) }

    // contacts, on the day of the named time
    case leads
    case leadsConverted = "leads_converted"
    case mqls
    case mqlsConverted = "mqls_converted"
    case mqlsAccepted = "mqls_accepted"
    /// MQLs assigned (response-time population), on the assignment day.
    case assigned
    /// Answered MQLs: `value` = wall-clock response in ms (a percentile sample).
    case response
    /// Answered MQLs: `value` = response in business ms on the owner's calendar.
    case responseBusiness = "response_business"
    /// Answered within the workspace's response target.
    case responseInSLA = "response_in_sla"
    // opportunities
    case oppsCreated = "opps_created"
    case oppsCreatedWon = "opps_created_won"
    /// Won on the close day; total = amount in cents.
    case won
    case lost
    /// Lost on the close day, `label` = the lost reason.
    case lostReason = "lost_reason"
    /// Won deals: total = created → closed in ms.
    case wonCycle = "won_cycle"
    /// Won deals with a marketing touch: `value` = first marketing touch → close in ms.
    case velocity
    case wonWithoutTouch = "won_without_touch"
    /// Open deals on their expected close day; total = amount in cents.
    case openPipeline = "open_pipeline"
    /// Open deals on their expected close day; total = cents × stage probability in percent.
    case openPipelineWeighted = "open_pipeline_weighted"
    /// Open deals now (day 0); total = amount in cents.
    case openOpportunities = "open_opportunities"
    // accounts
    /// Accounts whose first won deal closed that day.
    case newCustomers = "new_customers"
    // costs; total = cents
    case spendMarketing = "spend_marketing"
    case spendSales = "spend_sales"
    /// Cost rows of another category (counted, never summed).
    case spendOther = "spend_other"
    // the funnel (contacts; see Funnel.swift)
    /// On the lead day (cohort): `label` = the furthest funnel stage reached.
    case funnelReached = "funnel_reached"
    /// On the day a stage was entered: `label` = the stage.
    case stageEntered = "stage_entered"
    /// On the day a stage was left for the next one reached: `label` = the stage left, `value` =
    /// its time-in-stage bucket, total = the time in ms.
    case stageTime = "stage_time"
    /// Contacts in an open stage now, on the day they entered it: `label` = the stage.
    case inStage = "in_stage"
    /// Contacts with sales now (MQL, SAL, SQL), on the day of their last sales action (else of
    /// becoming MQL): `label` = the stage. Stale = before a cut-off day.
    case salesIdle = "sales_idle"
    /// Contacts now recycled / disqualified, on the day they moved there: `label` = the reason.
    case recycledReason = "recycled_reason"
    case disqualifiedReason = "disqualified_reason"

    /// The kind of record a metric counts.
    public var source: Resource {
        switch self {
        case .leads, .leadsConverted, .mqls, .mqlsConverted, .mqlsAccepted, .assigned, .response, .responseBusiness, .responseInSLA:
            return .contacts
        case .funnelReached, .stageEntered, .stageTime, .inStage, .salesIdle, .recycledReason, .disqualifiedReason:
            return .contacts
        case .newCustomers: return .accounts
        case .spendMarketing, .spendSales, .spendOther: return .costs
        default: return .opportunities
        }
    }

    /// Metrics whose `value` holds a sample for percentiles.
    public var isSample: Bool { self == .response || self == .responseBusiness || self == .velocity }

    /// The funnel's metrics (read by the funnel report, not by the KPI set).
    public var isFunnel: Bool {
        switch self {
        case .funnelReached, .stageEntered, .stageTime, .inStage, .salesIdle, .recycledReason, .disqualifiedReason: return true
        default: return false
        }
    }
}

/// One aggregate cell: a metric on a day under one cut value (and a label or sample value).
public struct KPIKey: Sendable, Hashable, Comparable {
    public var metric: KPIMetric
    public var dimension: KPIDimension
    public var key: String
    public var day: Int64
    public var label: String
    public var value: Int64

    public init(_ metric: KPIMetric, _ dimension: KPIDimension, _ key: String, day: Int64, label: String = "", value: Int64 = 0) {
        self.metric = metric
        self.dimension = dimension
        self.key = key
        self.day = day
        self.label = label
        self.value = value
    }

    public static func < (a: KPIKey, b: KPIKey) -> Bool {
        (a.metric.rawValue, a.dimension.rawValue, a.key, a.day, a.label, a.value) < (
            b.metric.rawValue, b.dimension.rawValue, b.key, b.day, b.label, b.value
        )
    }
}

/// A count and an integer total (cents or milliseconds), so sums are exact in any order.
public struct KPITally: Sendable, Hashable {
    public var count: Int64
    public var total: Int64

    public init(count: Int64 = 0, total: Int64 = 0) {
        self.count = count
        self.total = total
    }

    // Wrapping on purpose: tallies are kept as sums of deltas, and two's-complement sums are
    // exact in any order as long as the final value fits, even when a partial sum does not.
    public static func + (a: KPITally, b: KPITally) -> KPITally { KPITally(count: a.count &+ b.count, total: a.total &+ b.total) }
    public static func - (a: KPITally, b: KPITally) -> KPITally { KPITally(count: a.count &- b.count, total: a.total &- b.total) }
    public var isZero: Bool { count == 0 && total == 0 }
}

/// The aggregate cells one record adds to.
public struct KPIContribution: Sendable, Equatable {
    /// Each cell once (a record adds to a metric once per cut); an array, not a dictionary,
    /// because a rebuild computes millions of these and only the accumulator needs hashing.
    public private(set) var entries: [(key: KPIKey, tally: KPITally)] = []

    public init() {}

    /// The cells as a dictionary.
    public var cells: [KPIKey: KPITally] { Dictionary(entries.map { ($0.key, $0.tally) }, uniquingKeysWith: +) }

    public static func == (a: KPIContribution, b: KPIContribution) -> Bool { a.cells == b.cells }

    /// Adds a tally to every cut of `cuts` in `dimensions`.
    public mutating func add(
        _ metric: KPIMetric,
        day: Int64,
        cuts: KPICuts,
        dimensions: [KPIDimension],
        label: String = "",
        value: Int64 = 0,
        total: Int64 = 0
    ) {
        for d in dimensions { entries.append((KPIKey(metric, d, cuts[d], day: day, label: label, value: value), KPITally(count: 1, total: total))) }
    }

    /// What changes when a record goes from `old` to `new`: new − old, without zero cells.
    public static func delta(from old: KPIContribution, to new: KPIContribution) -> [KPIKey: KPITally] {
        var d = new.cells
        for (k, v) in old.entries { d[k, default: KPITally()] = d[k, default: KPITally()] - v }
        return d.filter { !$0.value.isZero }
    }

    static let recordDimensions = KPIDimension.allCases
    static let costDimensions: [KPIDimension] = [.all, .campaign, .channel]

    /// A contact's cells. `slaMs`: the response target for `response_in_sla`.
    public static func of(_ c: ContactKPIFacts, calendar: KPICalendar, slaMs: Int64) -> KPIContribution {
        var out = KPIContribution()
        let dims = recordDimensions
        if let lead = c.leadAt {
            let day = calendar.day(lead)
            out.add(.leads, day: day, cuts: c.cuts, dimensions: dims)
            if c.opportunityAt != nil { out.add(.leadsConverted, day: day, cuts: c.cuts, dimensions: dims) }
        }
        if let mql = c.mqlAt {
            let day = calendar.day(mql)
            out.add(.mqls, day: day, cuts: c.cuts, dimensions: dims)
            if c.opportunityAt != nil { out.add(.mqlsConverted, day: day, cuts: c.cuts, dimensions: dims) }
            if c.salAt != nil { out.add(.mqlsAccepted, day: day, cuts: c.cuts, dimensions: dims) }
            if let assigned = c.assignedAt {
                let day = calendar.day(assigned)
                out.add(.assigned, day: day, cuts: c.cuts, dimensions: dims)
                if let responded = c.respondedAt {
                    let ms = responded.milliseconds - assigned.milliseconds
                    out.add(.response, day: day, cuts: c.cuts, dimensions: dims, value: ms, total: ms)
                    if let b = c.responseBusinessMs {
                        out.add(.responseBusiness, day: day, cuts: c.cuts, dimensions: dims, value: b, total: b)
                    }
                    if ms <= slaMs { out.add(.responseInSLA, day: day, cuts: c.cuts, dimensions: dims) }
                }
            }
        }
        out.addFunnel(c, calendar: calendar)
        return out
    }

    /// An opportunity's cells.
    public static func of(_ d: DealKPIFacts, calendar: KPICalendar) -> KPIContribution {
        var out = KPIContribution()
        let dims = recordDimensions
        let created = calendar.day(d.createdAt)
        out.add(.oppsCreated, day: created, cuts: d.cuts, dimensions: dims)
        switch (d.isWon, d.closedAt) {
        case (true?, let closed?):
            let day = calendar.day(closed)
            out.add(.oppsCreatedWon, day: created, cuts: d.cuts, dimensions: dims)
            out.add(.won, day: day, cuts: d.cuts, dimensions: dims, total: d.amountCents)
            out.add(.wonCycle, day: day, cuts: d.cuts, dimensions: dims, total: closed.milliseconds - d.createdAt.milliseconds)
            if let first = d.firstMarketingTouchAt, first <= closed {
                let ms = closed.milliseconds - first.milliseconds
                out.add(.velocity, day: day, cuts: d.cuts, dimensions: dims, value: ms, total: ms)
            } else {
                out.add(.wonWithoutTouch, day: day, cuts: d.cuts, dimensions: dims)
            }
        case (false?, let closed?):
            let day = calendar.day(closed)
            out.add(.lost, day: day, cuts: d.cuts, dimensions: dims)
            out.add(.lostReason, day: day, cuts: d.cuts, dimensions: dims, label: d.lostReason ?? KPIDimension.none)
        case (nil, _):
            out.add(.openOpportunities, day: 0, cuts: d.cuts, dimensions: dims, total: d.amountCents)
            if let day = d.expectedCloseDay {
                out.add(.openPipeline, day: day, cuts: d.cuts, dimensions: dims, total: d.amountCents)
                out.add(.openPipelineWeighted, day: day, cuts: d.cuts, dimensions: dims, total: Money.weighted(d.amountCents, percent: d.probabilityPercent))
            }
        default:
            break  // decided without a close time: neither open nor closed in any period
        }
        return out
    }

    /// An account's cells: a new customer on the day of its first won deal.
    public static func account(firstWonAt: Timestamp?, calendar: KPICalendar) -> KPIContribution {
        var out = KPIContribution()
        if let t = firstWonAt { out.add(.newCustomers, day: calendar.day(t), cuts: KPICuts(), dimensions: [.all]) }
        return out
    }

    /// A cost row's cells.
    public static func of(_ c: CostKPIFacts) -> KPIContribution {
        var out = KPIContribution()
        let cuts = KPICuts([.campaign: c.campaign, .channel: c.channel])
        switch c.category {
        case "marketing": out.add(.spendMarketing, day: c.day, cuts: cuts, dimensions: costDimensions, total: c.amountCents)
        case "sales": out.add(.spendSales, day: c.day, cuts: cuts, dimensions: costDimensions, total: c.amountCents)
        default: out.add(.spendOther, day: c.day, cuts: cuts, dimensions: costDimensions)
        }
        return out
    }
}
