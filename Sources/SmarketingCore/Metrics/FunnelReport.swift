import Foundation

/// Options of a funnel read.
public struct FunnelOptions: Sendable, Hashable {
    /// Stuck: in an open stage without a move for more than this many days.
    public var stuckDays: Int
    /// Stale: an MQL/SAL/SQL without a sales action for more than this many days.
    public var staleDays: Int
    /// The confidence of the drop-off flags (family-wise, Bonferroni over the tests made).
    public var confidence: Double

    public init(stuckDays: Int = 30, staleDays: Int = 14, confidence: Double = 0.95) {
        self.stuckDays = stuckDays
        self.staleDays = staleDays
        self.confidence = confidence
    }

    /// The day thresholds (stuck, stale) a workspace may ask for.
    public static let daysRange = 1...3650
    /// The confidences a report may be asked at (funnel drop-off and conversion killers).
    public static let confidenceRange = 0.5...0.999
}

/// "Where do our leads get lost?" in one document (JSON schema `smarketing-funnel/1`, see
/// docs/KPIS.md).
public struct FunnelReport: Sendable, Equatable, Codable, ExplicitNullEncodable {
    public typealias Period = ReportPeriod
    public struct Settings: Sendable, Equatable, Codable {
        public var stuckDays: Int
        public var staleDays: Int
        public var slaHours: Double
        public var confidence: Double
        public var test: String
    }
    /// The lead cohort of the period: how many reached each stage by now.
    public struct CohortStage: Sendable, Equatable, Codable, ExplicitNullEncodable {
        public var stage: String
        public var reached: Int64
        /// reached ÷ reached of the stage before (nil for the first or an empty one).
        public var fromPrevious: Double?
        public var fromFirst: Double?
        /// Reached the stage before but not this one.
        public var lost: Int64
    }
    /// The period view: entries into each stage during the period.
    public struct PeriodStage: Sendable, Equatable, Codable, ExplicitNullEncodable {
        public var stage: String
        public var entered: Int64
        /// entered ÷ entered of the stage before (a flow ratio, not a cohort share).
        public var fromPrevious: Double?
    }
    public struct Bucket: Sendable, Equatable, Codable, ExplicitNullEncodable {
        public var label: String
        public var fromHours: Int64
        public var toHours: Int64?
        public var count: Int64
    }
    /// Time spent in a stage by the contacts that left it for a later stage in the period.
    public struct StageTime: Sendable, Equatable, Codable, ExplicitNullEncodable {
        public var stage: String
        public var left: Int64
        public var meanDays: Double?
        /// The bucket holding the median.
        public var medianBucket: String?
        public var buckets: [Bucket]
    }
    public struct StageCount: Sendable, Equatable, Codable {
        public var stage: String
        public var count: Int64
    }
    public typealias Reason = KPIValues.ReasonCount
    public struct SLA: Sendable, Equatable, Codable, ExplicitNullEncodable {
        public var assigned: Int64
        public var answeredInTime: Int64
        /// Assigned MQLs not answered within the target (unanswered ones included).
        public var breached: Int64
        public var compliance: Double?
    }
    public struct Group: Sendable, Equatable, Codable, ExplicitNullEncodable {
        public var key: String
        public var cohort: [CohortStage]
        public var period: [PeriodStage]
        public var timeInStage: [StageTime]
        /// Now: in an open stage for more than `stuck_days`.
        public var stuck: [StageCount]
        /// Now: MQL/SAL/SQL without a sales action for more than `stale_days`.
        public var stale: [StageCount]
        public var sla: SLA
        /// Leads of the period's rejections: recycled / disqualified in the period, by reason.
        public var recycled: [Reason]
        public var disqualified: [Reason]
    }
    /// One cut value against the rest of the cohort for one step.
    public struct SegmentDrop: Sendable, Equatable, Codable, ExplicitNullEncodable {
        public var key: String
        public var reached: Int64
        public var converted: Int64
        public var rate: Double?
        public var restRate: Double?
        /// rate − rest rate (percentage points as a fraction).
        public var difference: Double?
        public var z: Double?
        public var pValue: Double?
        /// min(1, p × number of tests).
        public var pAdjusted: Double?
        /// false: too few leads for the test (fewer than 5 expected (non-)conversions in a group).
        public var tested: Bool
        /// Loses significantly more than the rest at the report's confidence.
        public var flagged: Bool
    }
    public struct DropOff: Sendable, Equatable, Codable, ExplicitNullEncodable {
        public var from: String
        public var to: String
        public var rate: Double?
        public var lost: Int64
        public var segments: [SegmentDrop]
    }

    public var schema = "smarketing-funnel/1"
    public var period: Period
    public var asOf: String
    public var by: String
    public var settings: Settings
    public var total: Group
    public var groups: [Group]
    /// Per step, the cut values of `by` against the rest.
    public var dropOff: [DropOff]
    /// The answer in sentences, biggest leaks first.
    public var findings: [String]

    public static let test = "two-proportion z-test (pooled), one-sided, Bonferroni-adjusted"

    /// Builds the report from the summed cells: `total` uncut, `groups` per value of `by`.
    public static func build(
        period: Period,
        asOf: String,
        by: KPIDimension,
        total: FunnelSums,
        groups: [String: FunnelSums],
        options: FunnelOptions,
        slaHours: Double
    ) -> FunnelReport {
        let stages = FunnelStage.allCases
        var tests = 0
        var drops: [DropOff] = []
        for a in stages {
            guard let b = a.next else { continue }
            let na = total.reached(a)
            let nb = total.reached(b)
            var rows: [SegmentDrop] = []
            for (key, g) in groups.sorted(by: { $0.key < $1.key }) {
                let n = g.reached(a)
                let s = g.reached(b)
                guard n > 0 else { continue }
                let restN = na - n
                let restS = nb - s
                let t = by == .all ? nil : ProportionTest.lower(converted: s, of: n, than: restS, of: restN)
                if t != nil { tests += 1 }
                rows.append(
                    SegmentDrop(
                        key: key,
                        reached: n,
                        converted: s,
                        rate: ratio(s, n),
                        restRate: ratio(restS, restN),
                        difference: ratio(s, n).flatMap { r in ratio(restS, restN).map { r - $0 } },
                        z: t?.z,
                        pValue: t?.pValue,
                        pAdjusted: nil,
                        tested: t != nil,
                        flagged: false
                    )
                )
            }
            drops.append(DropOff(from: a.rawValue, to: b.rawValue, rate: ratio(nb, na), lost: na - nb, segments: rows))
        }
        let alpha = 1 - options.confidence
        for i in drops.indices {
            for j in drops[i].segments.indices {
                guard let p = drops[i].segments[j].pValue else { continue }
                let adjusted = min(1, p * Double(tests))
                drops[i].segments[j].pAdjusted = adjusted
                drops[i].segments[j].flagged = adjusted < alpha && (drops[i].segments[j].z ?? 0) < 0
            }
        }
        let totalGroup = group("all", total)
        let report = FunnelReport(
            period: period,
            asOf: asOf,
            by: by.rawValue,
            settings: Settings(stuckDays: options.stuckDays, staleDays: options.staleDays, slaHours: slaHours, confidence: options.confidence, test: test),
            total: totalGroup,
            groups: groups.keys.sorted().map { group($0, groups[$0]!) },
            dropOff: drops,
            findings: []
        )
        var out = report
        out.findings = report.findings(tests: tests)
        return out
    }

    static func ratio(_ a: Int64, _ b: Int64) -> Double? { KPIValues.ratio(a, b) }

    static func group(_ key: String, _ s: FunnelSums) -> Group {
        let stages = FunnelStage.allCases
        let first = s.reached(.lead)
        var cohort: [CohortStage] = []
        var period: [PeriodStage] = []
        for (i, stage) in stages.enumerated() {
            let r = s.reached(stage)
            let prev = i == 0 ? nil : s.reached(stages[i - 1])
            cohort.append(
                CohortStage(
                    stage: stage.rawValue,
                    reached: r,
                    fromPrevious: prev.flatMap { ratio(r, $0) },
                    fromFirst: ratio(r, first),
                    lost: prev.map { $0 - r } ?? 0
                )
            )
            let e = s.entered[stage] ?? 0
            period.append(PeriodStage(stage: stage.rawValue, entered: e, fromPrevious: i == 0 ? nil : ratio(e, s.entered[stages[i - 1]] ?? 0)))
        }
        let times: [StageTime] = stages.dropLast().map { stage in
            let b = s.stageTime[stage] ?? [:]
            let n = b.values.reduce(Int64(0)) { $0 &+ $1.count }
            let ms = b.values.reduce(Int64(0)) { $0 &+ $1.total }
            var median: String?
            var seen: Int64 = 0
            var buckets: [Bucket] = []
            for i in 0..<StageTimeBucket.count {
                let c = b[Int64(i)]?.count ?? 0
                seen += c
                if median == nil, n > 0, seen * 2 >= n { median = StageTimeBucket.label(i) }
                let (from, to) = StageTimeBucket.range(i)
                buckets.append(Bucket(label: StageTimeBucket.label(i), fromHours: from, toHours: to, count: c))
            }
            return StageTime(
                stage: stage.rawValue,
                left: n,
                meanDays: n == 0 ? nil : Double(ms) / Double(n) / 86_400_000,
                medianBucket: median,
                buckets: buckets
            )
        }
        func reasons(_ d: [String: Int64]) -> [Reason] {
            Reason.ranked(d.filter { $0.value != 0 })
        }
        return Group(
            key: key,
            cohort: cohort,
            period: period,
            timeInStage: times,
            stuck: FunnelStage.open.map { StageCount(stage: $0.rawValue, count: s.stuck[$0] ?? 0) },
            stale: FunnelStage.withSales.map { StageCount(stage: $0.rawValue, count: s.stale[$0] ?? 0) },
            sla: SLA(
                assigned: s.assigned,
                answeredInTime: s.answeredInSLA,
                breached: s.assigned - s.answeredInSLA,
                compliance: ratio(s.answeredInSLA, s.assigned)
            ),
            recycled: reasons(s.recycled),
            disqualified: reasons(s.disqualified)
        )
    }

    /// The answer in plain sentences, biggest leaks first.
    func findings(tests: Int) -> [String] {
        func pct(_ x: Double?) -> String { x.map { String(format: "%.1f%%", $0 * 100) } ?? "–" }
        var out: [String] = []
        let steps = dropOff.filter { $0.rate != nil }
        if let worst = steps.min(by: { $0.rate! < $1.rate! }) {
            out.append(
                "The biggest step loss of the period's leads: \(worst.from) → \(worst.to) keeps \(pct(worst.rate)) (\(worst.lost) lost)."
            )
        }
        var flagged: [(DropOff, SegmentDrop)] = []
        for d in dropOff { for s in d.segments where s.flagged { flagged.append((d, s)) } }
        for (d, s) in flagged.sorted(by: { ($0.1.difference ?? 0) < ($1.1.difference ?? 0) }) {
            out.append(
                "\(by) \(s.key) loses more at \(d.from) → \(d.to): \(pct(s.rate)) of \(s.reached) against \(pct(s.restRate)) for the rest "
                    + "(p = \(String(format: "%.2g", s.pAdjusted ?? 1)) after Bonferroni over \(tests) tests, \(Int((settings.confidence * 100).rounded()))% confidence)."
            )
        }
        if by != KPIDimension.all.rawValue, flagged.isEmpty, tests > 0 {
            out.append(
                "No \(by) loses significantly more than the rest at any step (\(tests) tests at \(Int((settings.confidence * 100).rounded()))% confidence)."
            )
        }
        let stale = total.stale.reduce(Int64(0)) { $0 + $1.count }
        if stale > 0 { out.append("\(stale) leads with sales have had no sales action for more than \(settings.staleDays) days.") }
        let stuck = total.stuck.filter { $0.stage != FunnelStage.lead.rawValue }.reduce(Int64(0)) { $0 + $1.count }
        if stuck > 0 { out.append("\(stuck) MQLs, SALs and SQLs have not moved for more than \(settings.stuckDays) days.") }
        if total.sla.breached > 0 {
            out.append(
                "\(total.sla.breached) of \(total.sla.assigned) MQLs assigned in the period were not answered within \(String(format: "%g", settings.slaHours)) h (compliance \(pct(total.sla.compliance)))."
            )
        }
        if let top = (total.recycled + total.disqualified).max(by: { $0.count < $1.count }) {
            out.append("The most frequent rejection reason: \(top.reason) (\(top.count)).")
        }
        return out
    }
}
