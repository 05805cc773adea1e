/// The KPIs as code (`kpis.yaml`, docs/RITUALS.md): per KPI a target, thresholds for green,
/// amber and red, an owner and what it is compared with; and custom KPIs made from the figures
/// of the KPI set (ratios, sums, single figures) under one cut value — computed from the same
/// incremental aggregates, never from a history scan.
public struct KPIConfig: Sendable, Equatable {
    /// Settings of a built-in KPI (one of the agenda's headline KPIs, by key).
    public struct Builtin: Sendable, Equatable {
        public var id: String
        public var target: Double?
        public var good: Double?
        public var bad: Double?
        public var owner: String?
        public var comparison: Comparison

        public init(id: String, target: Double? = nil, good: Double? = nil, bad: Double? = nil, owner: String? = nil, comparison: Comparison = .previous) {
            self.id = id
            self.target = target
            self.good = good
            self.bad = bad
            self.owner = owner
            self.comparison = comparison
        }
    }

    /// What a KPI's change is measured against.
    public enum Comparison: String, Sendable, CaseIterable, Codable {
        case previous, target
    }

    /// How a custom KPI is computed from figures of the KPI set (dotted paths of
    /// `smarketing-kpis/1`, e.g. `lead_to_opportunity.mql_cohort.converted`).
    public enum Formula: Sendable, Equatable {
        case value(String)
        case sum([String])
        case ratio(String, String)
    }

    public struct Custom: Sendable, Equatable {
        public var id: String
        public var label: String
        public var unit: String
        public var formula: Formula
        /// One cut value the figures are read under (`segment: enterprise`); nil: the total.
        public var filter: (dimension: KPIDimension, key: String)?
        public var target: Double?
        public var good: Double?
        public var bad: Double?
        public var higherIsBetter: Bool
        public var owner: String?

        public init(
            id: String,
            label: String,
            unit: String,
            formula: Formula,
            filter: (dimension: KPIDimension, key: String)?,
            target: Double?,
            good: Double?,
            bad: Double?,
            higherIsBetter: Bool,
            owner: String?
        ) {
            self.id = id
            self.label = label
            self.unit = unit
            self.formula = formula
            self.filter = filter
            self.target = target
            self.good = good
            self.bad = bad
            self.higherIsBetter = higherIsBetter
            self.owner = owner
        }

        public static func == (a: Custom, b: Custom) -> Bool {
            a.id == b.id && a.label == b.label && a.unit == b.unit && a.formula == b.formula && a.filter?.dimension == b.filter?.dimension
                && a.filter?.key == b.filter?.key && a.target == b.target && a.good == b.good && a.bad == b.bad && a.higherIsBetter == b.higherIsBetter
                && a.owner == b.owner
        }
    }

    public var builtins: [Builtin]
    public var custom: [Custom]

    public init(builtins: [Builtin] = [], custom: [Custom] = []) {
        self.builtins = builtins
        self.custom = custom
    }

    public static let units = ["count", "rate", "money", "hours", "days", "ratio"]

    /// The built-in KPIs a file may configure (the agenda's headline KPIs) and whether more is better.
    public static let builtinKeys: [(key: String, higherIsBetter: Bool)] = [
        ("mqls", true), ("mql_acceptance", true), ("lead_to_opportunity", true), ("lead_response_time", false), ("sla_compliance", true),
        ("win_rate", true), ("won_revenue", true), ("pipeline_coverage", true), ("cost_per_mql", false),
    ]

    /// The value of a formula from the figures of one KPI set (flattened to dotted paths);
    /// nil when a figure is missing or a denominator is zero.
    public static func evaluate(_ f: Formula, _ figures: [String: Double]) -> Double? {
        switch f {
        case .value(let p): return figures[p]
        case .sum(let ps):
            var total = 0.0
            for p in ps {
                guard let v = figures[p] else { return nil }
                total += v
            }
            return total
        case .ratio(let a, let b):
            guard let n = figures[a], let d = figures[b], d != 0 else { return nil }
            return n / d
        }
    }

    /// The paths a formula reads.
    public static func paths(_ f: Formula) -> [String] {
        switch f {
        case .value(let p): return [p]
        case .sum(let ps): return ps
        case .ratio(let a, let b): return [a, b]
        }
    }

    /// Green when the value reaches `good`, red when it is at or past `bad`, amber between (the
    /// direction from `higherIsBetter`); nil without a value or thresholds.
    public static func status(_ value: Double?, good: Double?, bad: Double?, higherIsBetter: Bool) -> String? {
        guard let v = value, good != nil || bad != nil else { return nil }
        func atLeast(_ x: Double, _ t: Double) -> Bool { higherIsBetter ? x >= t : x <= t }
        if let g = good, atLeast(v, g) { return "green" }
        if let b = bad, !atLeast(v, b) || v == b { return "red" }
        return "amber"
    }
}

/// A custom KPI's value for a period and the one before, with its status.
public struct CustomKPIValue: Sendable, Equatable, Codable, ExplicitNullEncodable {
    public var id: String
    public var label: String
    public var unit: String
    public var current: Double?
    public var previous: Double?
    public var target: Double?
    public var status: String?
    public var filter: String?
    public var owner: String?

    public init(id: String, label: String, unit: String, current: Double?, previous: Double?, target: Double?, status: String?, filter: String?, owner: String?) {
        self.id = id
        self.label = label
        self.unit = unit
        self.current = current
        self.previous = previous
        self.target = target
        self.status = status
        self.filter = filter
        self.owner = owner
    }
}
