/// A period of the KPI calendar: local days `[fromDay, toDay)`.
public struct KPIPeriod: Sendable, Hashable {
    public var from: LocalDate
    public var to: LocalDate

    public init(from: LocalDate, to: LocalDate) {
        self.from = from
        self.to = to
    }

    /// Every day a record can have (the edge refuses years outside 1900–2199).
    public static let allTime = KPIPeriod(from: LocalDate(year: 1900, month: 1, day: 1), to: LocalDate(year: 2200, month: 1, day: 1))

    /// The calendar quarter a date falls in.
    public static func quarter(containing d: LocalDate) -> KPIPeriod {
        let first = (d.month - 1) / 3 * 3 + 1
        return KPIPeriod(from: LocalDate(year: d.year, month: first, day: 1), to: quarterEnd(LocalDate(year: d.year, month: first, day: 1)))
    }

    /// The fiscal quarter a date falls in, for a fiscal year starting in `startMonth` (1: the
    /// calendar quarters).
    public static func fiscalQuarter(containing d: LocalDate, startMonth: Int) -> KPIPeriod {
        let m = (1...12).contains(startMonth) ? startMonth : 1
        let offset = ((d.month - m) % 12 + 12) % 12
        let first = (m - 1 + offset / 3 * 3) % 12 + 1
        let year = first > d.month ? d.year - 1 : d.year
        let from = LocalDate(year: year, month: first, day: 1)
        return KPIPeriod(from: from, to: LocalDate(monthIndex: from.monthIndex + 3))
    }

    /// The first day after the quarter `d` falls in.
    static func quarterEnd(_ d: LocalDate) -> LocalDate {
        let m = (d.month - 1) / 3 * 3 + 4
        return m > 12 ? LocalDate(year: d.year + 1, month: m - 12, day: 1) : LocalDate(year: d.year, month: m, day: 1)
    }

    /// Why a period could not be read; callers phrase it with their own parameter names.
    public enum Problem: Error, Sendable, Equatable {
        /// `from` (true) or `to` (false) is not a date.
        case notADate(from: Bool, text: String)
        case notBefore
        case tooLong
    }

    /// A period from optional `from`/`to` dates (YYYY-MM-DD): no `from` = the quarter of
    /// `today`; no `to` = the end of `from`'s quarter; at most ten years.
    public static func parse(from: String?, to: String?, today: LocalDate, fiscalStartMonth: Int = 1) -> Result<KPIPeriod, Problem> {
        let start: LocalDate
        if let from {
            guard let d = LocalDate.parse(from) else { return .failure(.notADate(from: true, text: from)) }
            start = d
        } else {
            start = fiscalQuarter(containing: today, startMonth: fiscalStartMonth).from
        }
        let end: LocalDate
        if let to {
            guard let d = LocalDate.parse(to) else { return .failure(.notADate(from: false, text: to)) }
            end = d
        } else {
            end = fiscalQuarter(containing: start, startMonth: fiscalStartMonth).to
        }
        guard start < end else { return .failure(.notBefore) }
        guard end.daysSinceEpoch - start.daysSinceEpoch <= 3660 else { return .failure(.tooLong) }
        return .success(KPIPeriod(from: start, to: end))
    }

    public var fromDay: Int64 { from.daysSinceEpoch }
    public var toDay: Int64 { to.daysSinceEpoch }
    public var days: Int64 { toDay - fromDay }

    /// The period cut at calendar month boundaries (the first and last pieces may be partial).
    public var monthly: [KPIPeriod] {
        var out: [KPIPeriod] = []
        var start = from
        while start < to {
            let next = LocalDate(monthIndex: start.monthIndex + 1)
            out.append(KPIPeriod(from: start, to: min(next, to)))
            start = next
        }
        return out
    }

    /// The period just before this one: as many calendar months when this one is whole months
    /// (a quarter → the previous quarter), else as many days.
    public var previous: KPIPeriod {
        if from.day == 1 && to.day == 1 {
            return KPIPeriod(from: LocalDate(monthIndex: 2 * from.monthIndex - to.monthIndex), to: from)
        }
        return KPIPeriod(from: LocalDate(daysSinceEpoch: fromDay - days), to: from)
    }
}

/// A target row (`targets.csv`): a month, a metric, a value, optionally a segment.
public struct KPITarget: Sendable, Hashable {
    public var year: Int
    public var month: Int
    public var metric: String
    public var value: Double
    public var segment: String?

    public init(year: Int, month: Int, metric: String, value: Double, segment: String?) {
        self.year = year
        self.month = month
        self.metric = metric
        self.value = value
        self.segment = segment
    }

    /// The target of `metric` over `period`: per month the row without a segment, else the sum
    /// of its segment rows (or only `segment`'s rows when given); months partly inside the
    /// period count pro rata by days. nil when no row applies.
    public static func total(_ rows: [KPITarget], metric: String, period: KPIPeriod, segment: String? = nil) -> Double? {
        var months: [Int: (all: Double?, segments: Double, bySegment: Double?)] = [:]
        for r in rows where r.metric == metric {
            let k = LocalDate(year: r.year, month: r.month, day: 1).monthIndex
            var m = months[k] ?? (nil, 0, nil)
            if let s = r.segment, !s.isEmpty {
                m.segments += r.value
                if s == segment { m.bySegment = (m.bySegment ?? 0) + r.value }
            } else {
                m.all = (m.all ?? 0) + r.value
            }
            months[k] = m
        }
        guard !months.isEmpty else { return nil }
        var total = 0.0
        var any = false
        for (k, m) in months {
            let start = LocalDate(monthIndex: k).daysSinceEpoch
            let end = LocalDate(monthIndex: k + 1).daysSinceEpoch
            let overlap = min(end, period.toDay) - max(start, period.fromDay)
            guard overlap > 0 else { continue }
            let v: Double?
            if segment != nil { v = m.bySegment } else { v = m.all ?? m.segments }
            guard let v else { continue }
            any = true
            total += v * Double(overlap) / Double(end - start)
        }
        return any || segment == nil ? total : nil
    }
}

/// The cells of one cut value summed over a period's days: per metric a tally, plus per-label
/// tallies (lost reasons) and the sample values with their counts (percentiles).
public struct KPICellSums: Sendable, Equatable {
    public var tallies: [KPIMetric: KPITally] = [:]
    public var labels: [KPIMetric: [String: Int64]] = [:]
    public var samples: [KPIMetric: [Int64: Int64]] = [:]
    /// Sorted runs of sample values (a month's samples read whole), merged with `samples` for
    /// percentiles.
    public var runs: [KPIMetric: [[Int64]]] = [:]
    /// Time in stage per stage left: count and total ms.
    public var stageTimes: [String: KPITally] = [:]

    public init() {}

    public mutating func add(_ metric: KPIMetric, label: String, value: Int64, _ t: KPITally) {
        tallies[metric, default: KPITally()] = tallies[metric, default: KPITally()] + t
        if !label.isEmpty { labels[metric, default: [:]][label, default: 0] += t.count }
        if metric == .stageTime { stageTimes[label, default: KPITally()] = stageTimes[label, default: KPITally()] + t }
        if metric.isSample { samples[metric, default: [:]][value, default: 0] += t.count }
    }

    /// Adds a month's tally and its sorted sample values (the month roll-up of a sample metric).
    public mutating func add(_ metric: KPIMetric, run: [Int64], _ t: KPITally) {
        tallies[metric, default: KPITally()] = tallies[metric, default: KPITally()] + t
        if !run.isEmpty { runs[metric, default: []].append(run) }
    }

    public func count(_ m: KPIMetric) -> Int64 { tallies[m]?.count ?? 0 }
    public func total(_ m: KPIMetric) -> Int64 { tallies[m]?.total ?? 0 }

    /// The p-th percentile (linear interpolation) of a sample metric, divided by `unit`.
    public func percentile(_ m: KPIMetric, _ p: Double, unit: Double) -> Double? {
        var all = runs[m] ?? []
        if let s = samples[m], !s.isEmpty {
            var run: [Int64] = []
            for (v, c) in s.sorted(by: { $0.key < $1.key }) where c > 0 { run.append(contentsOf: repeatElement(v, count: Int(c))) }
            all.append(run)
        }
        let n = all.reduce(0) { $0 + $1.count }
        guard n > 0 else { return nil }
        let pos = p * Double(n - 1)
        let lo = Int(pos.rounded(.down))
        let a = Double(SortedRuns.element(lo, of: all))
        let b = lo + 1 < n ? Double(SortedRuns.element(lo + 1, of: all)) : a
        return (a + (b - a) * (pos - Double(lo))) / unit
    }
}

/// Sorted runs of integers: merging, and a compact encoding for stored month samples (zigzag
/// varints of the differences). Written by hand: a few lines, and no package in the dependency
/// list encodes integer lists.
public enum SortedRuns {
    /// One sorted array from sorted arrays (pairwise merges, smallest first).
    public static func merge(_ runs: [[Int64]]) -> [Int64] {
        var queue = runs.filter { !$0.isEmpty }.sorted { $0.count < $1.count }
        guard !queue.isEmpty else { return [] }
        while queue.count > 1 {
            let a = queue.removeFirst()
            let b = queue.removeFirst()
            var out: [Int64] = []
            out.reserveCapacity(a.count + b.count)
            var i = 0
            var j = 0
            while i < a.count && j < b.count {
                if a[i] <= b[j] {
                    out.append(a[i])
                    i += 1
                } else {
                    out.append(b[j])
                    j += 1
                }
            }
            out.append(contentsOf: a[i...])
            out.append(contentsOf: b[j...])
            let at = queue.firstIndex { $0.count >= out.count } ?? queue.count
            queue.insert(out, at: at)
        }
        return queue[0]
    }

    /// The k-th smallest (0-based) of the union of sorted runs, without merging them: a binary
    /// search over the value range, counting with binary searches in each run.
    public static func element(_ k: Int, of runs: [[Int64]]) -> Int64 {
        var lo = runs.compactMap(\.first).min()!
        var hi = runs.compactMap(\.last).max()!
        // the smallest x with count(≤ x) > k
        while lo < hi {
            let mid = lo + (hi - lo) / 2
            var count = 0
            for r in runs { count += upperBound(r, mid) }
            if count > k { hi = mid } else { lo = mid + 1 }
        }
        return lo
    }

    /// The number of elements ≤ x in a sorted run.
    static func upperBound(_ r: [Int64], _ x: Int64) -> Int {
        var lo = 0
        var hi = r.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if r[mid] <= x { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Applies count changes (value → +n / −n) to a sorted run; a removal of a value not in the
    /// run is ignored (it cannot happen when the run and the changes come from the same cells).
    public static func apply(_ run: [Int64], _ changes: [Int64: Int64]) -> [Int64] {
        var adds: [Int64] = []
        var removes: [Int64: Int64] = [:]
        for (v, c) in changes {
            if c > 0 { adds.append(contentsOf: repeatElement(v, count: Int(c))) } else if c < 0 { removes[v] = -c }
        }
        var kept: [Int64] = []
        kept.reserveCapacity(run.count)
        for v in run {
            if let r = removes[v], r > 0 {
                removes[v] = r - 1
                continue
            }
            kept.append(v)
        }
        return adds.isEmpty ? kept : merge([kept, adds.sorted()])
    }

    public static func encode(_ run: [Int64]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(run.count * 3)
        var previous: Int64 = 0
        for v in run {
            let d = v &- previous
            previous = v
            var z = UInt64(bitPattern: (d << 1) ^ (d >> 63))
            while z >= 0x80 {
                out.append(UInt8(z & 0x7F) | 0x80)
                z >>= 7
            }
            out.append(UInt8(z))
        }
        return out
    }

    public static func decode(_ bytes: some Collection<UInt8>) -> [Int64] {
        bytes.withContiguousStorageIfAvailable { decode(UnsafeRawBufferPointer($0)) } ?? Array(bytes).withUnsafeBytes { decode($0) }
    }

    public static func decode(_ bytes: UnsafeRawBufferPointer) -> [Int64] {
        // Every value takes at least one byte: the byte count bounds the output.
        Array(unsafeUninitializedCapacity: bytes.count) { out, initialized in
            var n = 0
            var previous: Int64 = 0
            var z: UInt64 = 0
            var shift: UInt64 = 0
            for b in bytes {
                z |= UInt64(b & 0x7F) &<< shift
                if b & 0x80 != 0 {
                    shift &+= 7
                    continue
                }
                previous = previous &+ Int64(bitPattern: (z &>> 1) ^ (0 &- (z & 1)))
                out[n] = previous
                n &+= 1
                z = 0
                shift = 0
            }
            initialized = n
        }
    }
}

/// The KPI values of one cut value for one period (JSON schema `smarketing-kpis/1`, see
/// docs/KPIS.md). Ratios with a zero denominator are nil.
public struct KPIValues: Sendable, Equatable, Codable, ExplicitNullEncodable {
    public struct Rate: Sendable, Equatable, Codable, ExplicitNullEncodable {
        public var population: Int64
        public var converted: Int64
        public var rate: Double?

        public init(population: Int64, converted: Int64, rate: Double?) {
            self.population = population
            self.converted = converted
            self.rate = rate
        }
    }
    public struct LeadToOpportunity: Sendable, Equatable, Codable, ExplicitNullEncodable {
        public var mqlCohort: Rate
        public var leadCohort: Rate
    }
    public struct WinRate: Sendable, Equatable, Codable, ExplicitNullEncodable {
        public var won: Int64
        public var lost: Int64
        public var rate: Double?
        /// Of the opportunities created in the period, the share won by now.
        public var cohort: Rate
    }
    public struct ResponseTime: Sendable, Equatable, Codable, ExplicitNullEncodable {
        public var assignedMqls: Int64
        public var answered: Int64
        public var unanswered: Int64
        public var medianHours: Double?
        public var p90Hours: Double?
        public var meanHours: Double?
        public var businessMedianHours: Double?
        public var businessP90Hours: Double?
        public var businessMeanHours: Double?
        public var slaHours: Double
        /// Share of all assigned MQLs answered within `slaHours` (unanswered ones are breaches).
        public var slaCompliance: Double?
    }
    public struct DealVelocity: Sendable, Equatable, Codable, ExplicitNullEncodable {
        public var won: Int64
        public var withMarketingTouch: Int64
        public var withoutMarketingTouch: Int64
        public var medianDays: Double?
        public var meanDays: Double?
        public var wonRevenue: Double
        public var avgCycleDays: Double?
    }
    public struct SalesVelocity: Sendable, Equatable, Codable, ExplicitNullEncodable {
        public var openOpportunities: Int64
        public var winRate: Double?
        public var avgWonAmount: Double?
        public var avgCycleDays: Double?
        public var valuePerDay: Double?
    }
    public struct CAC: Sendable, Equatable, Codable, ExplicitNullEncodable {
        public var marketingSpend: Double
        public var salesCost: Double
        public var newCustomers: Int64
        public var cac: Double?
        public var otherCategoryRows: Int64
    }
    public struct PipelineCoverage: Sendable, Equatable, Codable, ExplicitNullEncodable {
        public var openPipeline: Double
        public var weightedPipeline: Double
        public var openOpportunitiesInPeriod: Int64
        public var revenueTarget: Double?
        public var wonRevenue: Double
        public var coverage: Double?
        public var weightedCoverage: Double?
    }
    public struct MQLVolume: Sendable, Equatable, Codable, ExplicitNullEncodable {
        public var mqls: Int64
        public var target: Double?
        public var ratio: Double?
        public var costPerMql: Double?
    }

    public var leadToOpportunity: LeadToOpportunity
    public var winRate: WinRate
    public var leadResponseTime: ResponseTime
    public var dealVelocity: DealVelocity
    public var salesVelocity: SalesVelocity
    /// Spend, new customers and CAC; new customers are only known in total, so cuts other than
    /// all leave `cac` nil.
    public var cac: CAC
    public var pipelineCoverage: PipelineCoverage
    public var mqlVolume: MQLVolume
    /// MQL→SAL acceptance: of the MQLs of the period, the share sales accepted.
    public var mqlAcceptance: Rate
    /// Opportunities lost in the period per lost reason, most frequent first.
    public var lostReasons: [ReasonCount]
    /// Leads recycled or disqualified in the period (and still there) per reason, most frequent first.
    public var rejectionReasons: [RejectionCount]
    /// Per funnel stage, the leads that left it for a later stage in the period and their mean
    /// time in it (the distribution is in the funnel report).
    public var timeInStage: [StageTime]
    /// MQLs, SALs and SQLs without a sales action for more than `days` days as of the read —
    /// a snapshot of now, so only the current period has it (nil for the previous one and for
    /// reads without an instant).
    public var staleLeads: StaleLeads?

    public struct ReasonCount: Sendable, Equatable, Codable, ExplicitNullEncodable {
        public var reason: String
        public var count: Int64

        /// Counts per reason, most frequent first (ties by reason).
        public static func ranked(_ counts: [String: Int64]) -> [ReasonCount] {
            counts.map { ReasonCount(reason: $0.key, count: $0.value) }.sorted { ($1.count, $0.reason) < ($0.count, $1.reason) }
        }
    }
    public struct RejectionCount: Sendable, Equatable, Codable, ExplicitNullEncodable {
        /// `recycled` or `disqualified`.
        public var outcome: String
        public var reason: String
        public var count: Int64
    }
    public struct StageTime: Sendable, Equatable, Codable, ExplicitNullEncodable {
        public var stage: String
        public var left: Int64
        public var meanDays: Double?
    }
    public struct StaleLeads: Sendable, Equatable, Codable, ExplicitNullEncodable {
        public var days: Int
        public var count: Int64
        public init(days: Int, count: Int64) {
            self.days = days
            self.count = count
        }
    }

    static func ratio(_ a: Int64, _ b: Int64) -> Double? { b == 0 ? nil : Double(a) / Double(b) }
    static func ratio(_ a: Double, _ b: Double) -> Double? { b == 0 ? nil : a / b }

    /// The KPI values from the period's cells, the open opportunities now (`open`), targets and
    /// settings.
    public static func compute(
        period p: KPICellSums,
        open: KPICellSums,
        revenueTarget: Double?,
        mqlTarget: Double?,
        slaHours: Double,
        customersKnown: Bool,
        staleLeads: StaleLeads? = nil
    ) -> KPIValues {
        let hour = 3_600_000.0
        let day = 86_400_000.0
        let mqls = p.count(.mqls)
        let leads = p.count(.leads)
        let won = p.count(.won)
        let lost = p.count(.lost)
        let winRate = ratio(won, won + lost)
        let answered = p.count(.response)
        let assigned = p.count(.assigned)
        let wonRevenue = Money.amount(p.total(.won))
        let avgCycle = won == 0 ? nil : Double(p.total(.wonCycle)) / Double(won) / day
        let avgWon = won == 0 ? nil : wonRevenue / Double(won)
        let openCount = open.count(.openOpportunities)
        var valuePerDay: Double?
        if let winRate, let avgWon, let avgCycle, avgCycle != 0 { valuePerDay = Double(openCount) * winRate * avgWon / avgCycle }
        let marketing = Money.amount(p.total(.spendMarketing))
        let sales = Money.amount(p.total(.spendSales))
        let newCustomers = p.count(.newCustomers)
        let pipeline = Money.amount(p.total(.openPipeline))
        let weighted = Money.amount(p.total(.openPipelineWeighted)) / 100
        let gap = revenueTarget.map { $0 - wonRevenue }
        let withTouch = p.count(.velocity)
        return KPIValues(
            leadToOpportunity: LeadToOpportunity(
                mqlCohort: Rate(population: mqls, converted: p.count(.mqlsConverted), rate: ratio(p.count(.mqlsConverted), mqls)),
                leadCohort: Rate(population: leads, converted: p.count(.leadsConverted), rate: ratio(p.count(.leadsConverted), leads))
            ),
            winRate: WinRate(
                won: won,
                lost: lost,
                rate: winRate,
                cohort: Rate(
                    population: p.count(.oppsCreated),
                    converted: p.count(.oppsCreatedWon),
                    rate: ratio(p.count(.oppsCreatedWon), p.count(.oppsCreated))
                )
            ),
            leadResponseTime: ResponseTime(
                assignedMqls: assigned,
                answered: answered,
                unanswered: assigned - answered,
                medianHours: p.percentile(.response, 0.5, unit: hour),
                p90Hours: p.percentile(.response, 0.9, unit: hour),
                meanHours: answered == 0 ? nil : Double(p.total(.response)) / Double(answered) / hour,
                businessMedianHours: p.percentile(.responseBusiness, 0.5, unit: hour),
                businessP90Hours: p.percentile(.responseBusiness, 0.9, unit: hour),
                businessMeanHours: p.count(.responseBusiness) == 0
                    ? nil : Double(p.total(.responseBusiness)) / Double(p.count(.responseBusiness)) / hour,
                slaHours: slaHours,
                slaCompliance: ratio(p.count(.responseInSLA), assigned)
            ),
            dealVelocity: DealVelocity(
                won: won,
                withMarketingTouch: withTouch,
                withoutMarketingTouch: p.count(.wonWithoutTouch),
                medianDays: p.percentile(.velocity, 0.5, unit: day),
                meanDays: withTouch == 0 ? nil : Double(p.total(.velocity)) / Double(withTouch) / day,
                wonRevenue: wonRevenue,
                avgCycleDays: avgCycle
            ),
            salesVelocity: SalesVelocity(
                openOpportunities: openCount,
                winRate: winRate,
                avgWonAmount: avgWon,
                avgCycleDays: avgCycle,
                valuePerDay: valuePerDay
            ),
            cac: CAC(
                marketingSpend: marketing,
                salesCost: sales,
                newCustomers: newCustomers,
                cac: customersKnown ? ratio(marketing + sales, Double(newCustomers)) : nil,
                otherCategoryRows: p.count(.spendOther)
            ),
            pipelineCoverage: PipelineCoverage(
                openPipeline: pipeline,
                weightedPipeline: weighted,
                openOpportunitiesInPeriod: p.count(.openPipeline),
                revenueTarget: revenueTarget,
                wonRevenue: wonRevenue,
                coverage: gap.flatMap { $0 > 0 ? pipeline / $0 : nil },
                weightedCoverage: gap.flatMap { $0 > 0 ? weighted / $0 : nil }
            ),
            mqlVolume: MQLVolume(
                mqls: mqls,
                target: mqlTarget,
                ratio: mqlTarget.flatMap { ratio(Double(mqls), $0) },
                costPerMql: ratio(marketing, Double(mqls))
            ),
            mqlAcceptance: Rate(population: mqls, converted: p.count(.mqlsAccepted), rate: ratio(p.count(.mqlsAccepted), mqls)),
            lostReasons: ReasonCount.ranked(p.labels[.lostReason] ?? [:]),
            rejectionReasons: [("recycled", KPIMetric.recycledReason), ("disqualified", .disqualifiedReason)].flatMap { outcome, metric in
                (p.labels[metric] ?? [:]).filter { $0.value != 0 }.map { RejectionCount(outcome: outcome, reason: $0.key, count: $0.value) }
            }.sorted { ($1.count, $0.outcome, $0.reason) < ($0.count, $1.outcome, $1.reason) },
            timeInStage: FunnelStage.allCases.dropLast().map { stage in
                let t = p.stageTimes[stage.rawValue] ?? KPITally()
                return StageTime(stage: stage.rawValue, left: t.count, meanDays: t.count == 0 ? nil : Double(t.total) / Double(t.count) / day)
            },
            staleLeads: staleLeads
        )
    }
}
