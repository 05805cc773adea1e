import Foundation

/// The funnel's forward stages in order: PRODUCT.md's lifecycle without `subscriber` (not yet a
/// lead) and without the side states `recycled` and `disqualified` (where leads leave it).
public enum FunnelStage: String, Sendable, CaseIterable, Codable, Comparable {
    case lead, mql, sal, sql, opportunity, customer

    public var rank: Int { Self.allCases.firstIndex(of: self)! }
    public static func < (a: FunnelStage, b: FunnelStage) -> Bool { a.rank < b.rank }

    /// The stage after this one (nil for `customer`, the funnel's end): a step's far side.
    public var next: FunnelStage? { rank + 1 < Self.allCases.count ? Self.allCases[rank + 1] : nil }

    /// Stages a contact waits in for its next move (stuck = no move for N days). From the
    /// opportunity on, deals carry the movement (the pipeline review's aging).
    public static let open: [FunnelStage] = [.lead, .mql, .sal, .sql]
    /// Stages sales works on (stale = no sales action for N days).
    public static let withSales: [FunnelStage] = [.mql, .sal, .sql]
}

/// Time-in-stage buckets (upper edges in hours): the distribution is kept as a histogram, so
/// it is additive like every other aggregate; the mean is exact (the total is kept in ms).
public enum StageTimeBucket {
    public static let edgesHours: [Int64] = [1, 24, 72, 168, 336, 720, 2160]
    public static var count: Int { edgesHours.count + 1 }

    public static func index(ms: Int64) -> Int64 {
        Int64(edgesHours.firstIndex { ms < $0 * 3_600_000 } ?? edgesHours.count)
    }

    /// The bucket's lower and upper edge in hours (nil: open-ended).
    public static func range(_ i: Int) -> (from: Int64, to: Int64?) {
        (i == 0 ? 0 : edgesHours[i - 1], i < edgesHours.count ? edgesHours[i] : nil)
    }

    public static func label(_ i: Int) -> String {
        func h(_ x: Int64) -> String { x < 24 ? "\(x)h" : "\(x / 24)d" }
        let (from, to) = range(i)
        guard let to else { return "≥\(h(from))" }
        return i == 0 ? "<\(h(to))" : "\(h(from))–\(h(to))"
    }
}

extension ContactKPIFacts {
    /// The instants the contact entered the stages it has a time for, in stage order.
    public var stageTimes: [(stage: FunnelStage, at: Timestamp)] {
        var out: [(stage: FunnelStage, at: Timestamp)] = []
        if let t = leadAt { out.append((.lead, t)) }
        if let t = mqlAt { out.append((.mql, t)) }
        if let t = salAt { out.append((.sal, t)) }
        if let t = sqlAt { out.append((.sql, t)) }
        if let t = opportunityAt { out.append((.opportunity, t)) }
        if let t = customerAt { out.append((.customer, t)) }
        return out
    }

    /// The furthest stage a lead reached (nil: not a lead). Reaching a stage implies the ones
    /// before it, also when the lifecycle skipped them; the current stage counts even without
    /// its time.
    public var furthestStage: FunnelStage? {
        guard leadAt != nil else { return nil }
        var best = stageTimes.map(\.stage).max() ?? .lead
        if let s = stage.flatMap(FunnelStage.init(rawValue:)), s > best { best = s }
        return best
    }

    /// The open stage the contact is in now and since when (nil: past the open stages, in a
    /// side state, or the stage's time is unknown).
    public var currentOpenStage: (stage: FunnelStage, since: Timestamp)? {
        guard let s = stage.flatMap(FunnelStage.init(rawValue:)), FunnelStage.open.contains(s),
            let since = stageTimes.first(where: { $0.stage == s })?.at
        else { return nil }
        return (s, since)
    }

    /// For a contact sales works on now: its stage and the last sales action (or, before any,
    /// becoming MQL) — "no sales touch since".
    public var salesIdleSince: (stage: FunnelStage, since: Timestamp)? {
        guard let s = stage.flatMap(FunnelStage.init(rawValue:)), FunnelStage.withSales.contains(s), let mql = mqlAt else { return nil }
        return (s, max(mql, lastSalesAt ?? mql))
    }
}

extension KPIContribution {
    /// A contact's funnel cells (see the funnel metrics of `KPIMetric`).
    mutating func addFunnel(_ c: ContactKPIFacts, calendar: KPICalendar) {
        let dims = KPIDimension.allCases
        if let exit = c.exitAt, c.stage == "recycled" || c.stage == "disqualified" {
            add(
                c.stage == "recycled" ? .recycledReason : .disqualifiedReason,
                day: calendar.day(exit),
                cuts: c.cuts,
                dimensions: dims,
                label: c.exitReason ?? KPIDimension.none
            )
        }
        guard let furthest = c.furthestStage, let lead = c.leadAt else { return }
        add(.funnelReached, day: calendar.day(lead), cuts: c.cuts, dimensions: dims, label: furthest.rawValue)
        let times = c.stageTimes
        for (stage, at) in times { add(.stageEntered, day: calendar.day(at), cuts: c.cuts, dimensions: dims, label: stage.rawValue) }
        for (a, b) in zip(times, times.dropFirst()) where b.at >= a.at {
            let ms = b.at.milliseconds - a.at.milliseconds
            add(.stageTime, day: calendar.day(b.at), cuts: c.cuts, dimensions: dims, label: a.stage.rawValue, value: StageTimeBucket.index(ms: ms), total: ms)
        }
        if let open = c.currentOpenStage {
            add(.inStage, day: calendar.day(open.since), cuts: c.cuts, dimensions: dims, label: open.stage.rawValue)
        }
        if let idle = c.salesIdleSince {
            add(.salesIdle, day: calendar.day(idle.since), cuts: c.cuts, dimensions: dims, label: idle.stage.rawValue)
        }
    }
}

/// The funnel cells of one cut value summed over a period (or, for the snapshot metrics, over
/// the days before a cut-off).
public struct FunnelSums: Sendable, Equatable {
    /// Cohort (leads of the period) by the furthest stage reached.
    public var furthest: [FunnelStage: Int64] = [:]
    public var entered: [FunnelStage: Int64] = [:]
    /// Per stage left: bucket index → count and total ms.
    public var stageTime: [FunnelStage: [Int64: KPITally]] = [:]
    public var recycled: [String: Int64] = [:]
    public var disqualified: [String: Int64] = [:]
    public var assigned: Int64 = 0
    public var answeredInSLA: Int64 = 0
    /// Snapshot (now): in an open stage since before the stuck cut-off / idle since before the stale cut-off.
    public var stuck: [FunnelStage: Int64] = [:]
    public var stale: [FunnelStage: Int64] = [:]

    public init() {}

    /// Adds one cell; `snapshot` cells (in_stage, sales_idle) count as stuck / stale (the
    /// caller reads them only before the cut-off day).
    public mutating func add(_ metric: KPIMetric, label: String, value: Int64, _ t: KPITally) {
        let stage = FunnelStage(rawValue: label)
        switch metric {
        case .funnelReached: if let stage { furthest[stage, default: 0] += t.count }
        case .stageEntered: if let stage { entered[stage, default: 0] += t.count }
        case .stageTime:
            if let stage { stageTime[stage, default: [:]][value, default: KPITally()] = stageTime[stage, default: [:]][value, default: KPITally()] + t }
        case .recycledReason: recycled[label, default: 0] += t.count
        case .disqualifiedReason: disqualified[label, default: 0] += t.count
        case .assigned: assigned += t.count
        case .responseInSLA: answeredInSLA += t.count
        case .inStage: if let stage { stuck[stage, default: 0] += t.count }
        case .salesIdle: if let stage { stale[stage, default: 0] += t.count }
        default: break
        }
    }

    /// Leads of the cohort that reached at least `stage`.
    public func reached(_ stage: FunnelStage) -> Int64 { furthest.filter { $0.key >= stage }.values.reduce(0, +) }
}
