/// One contact's journey for the data-driven models: its marketing touches in time order and,
/// when it converted (reached an opportunity), when.
public struct ContactJourney: Sendable, Hashable {
    public var touches: [PathTouch]
    public var convertedAt: Timestamp?

    public init(touches: [PathTouch], convertedAt: Timestamp?) {
        self.touches = touches
        self.convertedAt = convertedAt
    }

    /// The journey path under a cut (PRODUCT.md): labels of the touches up to the conversion
    /// (all of them for non-converters), consecutive repeats collapsed; nil for a converter
    /// without a touch at or before its conversion (skipped and counted) or no touches at all.
    public func path(_ by: AttributionCut) -> JourneyPath? {
        var labels: [String] = []
        for t in touches {
            if let c = convertedAt, t.at > c { break }
            let l = t.label(by)
            if labels.last != l { labels.append(l) }
        }
        guard !labels.isEmpty else { return nil }
        return JourneyPath(labels: labels, conversions: convertedAt == nil ? 0 : 1, nulls: convertedAt == nil ? 1 : 0)
    }
}

/// Journeys aggregated by path under every cut while they are read, so only the distinct paths
/// are held, never every contact's touches (a workspace of millions of journeys fits in the
/// memory of its distinct paths).
public struct JourneyAggregate: Sendable {
    var counts: [AttributionCut: [[String]: (Double, Double)]] = [:]
    var skipped: [AttributionCut: Int] = [:]
    /// The cuts aggregated (a report by campaign need not hash every journey's channel path).
    let cuts: [AttributionCut]

    public init(cuts: [AttributionCut] = AttributionCut.allCases) {
        var seen = Set<AttributionCut>()
        self.cuts = cuts.filter { seen.insert($0).inserted }
    }

    public mutating func add(_ journey: ContactJourney) {
        for cut in cuts {
            guard let p = journey.path(cut) else {
                if journey.convertedAt != nil { skipped[cut, default: 0] += 1 }
                continue
            }
            let old = counts[cut]?[p.labels] ?? (0, 0)
            counts[cut, default: [:]][p.labels] = (old.0 + p.conversions, old.1 + p.nulls)
        }
    }

    /// The aggregated paths under `cut` (sorted) and the converters without a touch before
    /// their conversion (skipped).
    public func paths(_ cut: AttributionCut) -> (paths: [JourneyPath], skippedConverters: Int) {
        let paths = (counts[cut] ?? [:]).map { JourneyPath(labels: $0.key, conversions: $0.value.0, nulls: $0.value.1) }
            .sorted { $0.labels.lexicographicallyPrecedes($1.labels) }
        return (paths, skipped[cut] ?? 0)
    }

    public static func of(_ journeys: [ContactJourney]) -> JourneyAggregate {
        var a = JourneyAggregate()
        for j in journeys { a.add(j) }
        return a
    }
}

/// An attribution report: per model, the credit of each label, beside spend and ROMI.
public struct AttributionReport: Sendable, Equatable, Codable, ExplicitNullEncodable {
    public struct Row: Sendable, Equatable, Codable, ExplicitNullEncodable {
        public var label: String
        public var revenue: Double
        public var deals: Double
        /// Marketing spend of the period on this label (campaign or channel; nil for content).
        public var spend: Double?
        /// (revenue − spend) ÷ spend; nil without spend.
        public var romi: Double?
        /// Markov only: the removal effect.
        public var removalEffect: Double?
    }
    public struct ModelResult: Sendable, Equatable, Codable, ExplicitNullEncodable {
        public var model: String
        public var rows: [Row]
        /// Markov only: journeys' P(conversion) and the conversions credited.
        public var conversionProbability: Double?
        public var conversions: Double?
        public var revenueAttributed: Double
        public var romi: Double?
    }

    /// PRODUCT.md's default look-back: touches up to 365 days before the close.
    public static let defaultLookbackDays = 365
    /// The look-back window a report may ask for, in days (ten years at the most).
    public static let lookbackRange: ClosedRange<Int> = 1...3_650
    /// The time-decay half-life a report may ask for, in days.
    public static let halfLifeRange: ClosedRange<Double> = 0.01...3_650

    public var schema = "smarketing-attribution/1"
    public var from: String
    public var to: String
    public var by: String
    public var lookbackDays: Int
    public var halfLifeDays: Double
    public var dealsWon: Int
    public var revenueWon: Double
    public var dealsWithPath: Int
    public var revenueUnattributed: Double
    public var marketingSpend: Double
    public var journeys: Int?
    public var skippedConvertersWithoutTouch: Int?
    public var models: [ModelResult]

    /// Builds the report of `models` from won deals, journeys (for Markov and Shapley) and the
    /// period's marketing spend per label.
    public static func build(
        from: String,
        to: String,
        by: AttributionCut,
        models: [AttributionModel],
        deals: [DealPath],
        journeys: JourneyAggregate,
        spend: [String: Double],
        marketingSpend: Double,
        lookbackDays: Int,
        halfLife: Int64 = RuleAttribution.defaultHalfLife
    ) -> AttributionReport {
        let withPath = deals.filter { !$0.touches.isEmpty }
        let revenueWon = deals.reduce(0.0) { $0 + Money.amount($1.amountCents) }
        let attributed = withPath.reduce(0.0) { $0 + Money.amount($1.amountCents) }
        func romi(_ revenue: Double, _ spend: Double?) -> Double? { spend.flatMap { $0 > 0 ? (revenue - $0) / $0 : nil } }
        var results: [ModelResult] = []
        let rules = DealAttribution.credit(withPath, models: models.compactMap(\.rule), by: by, halfLife: halfLife)
        var journeyCount: Int?
        var skipped: Int?
        for model in models {
            var rows: [Row] = []
            var result = ModelResult(model: model.rawValue, rows: [], revenueAttributed: attributed, romi: romi(attributed, marketingSpend))
            if let rule = model.rule {
                for (label, c) in rules[rule] ?? [:] {
                    rows.append(Row(label: label, revenue: c.revenueCents / 100, deals: c.deals))
                }
            } else {
                let (paths, skippedConverters) = journeys.paths(by)
                journeyCount = paths.reduce(0) { $0 + Int($1.conversions + $1.nulls) }
                skipped = skippedConverters
                let shares: [String: Double]
                if model == .markov {
                    let m = MarkovAttribution.exact(paths)
                    let total = m.removalEffects.reduce(0, +)
                    var s: [String: Double] = [:]
                    for (i, l) in m.labels.enumerated() {
                        s[l] = total > 0 ? m.removalEffects[i] / total : 0
                        rows.append(Row(label: l, revenue: 0, deals: 0, removalEffect: m.removalEffects[i]))
                    }
                    shares = s
                    result.conversionProbability = m.conversionProbability
                    result.conversions = m.totalConversions
                } else {
                    let v = ShapleyAttribution.values(paths)
                    let total = v.values.reduce(0, +)
                    shares = v.mapValues { total > 0 ? $0 / total : 0 }
                    rows = v.keys.map { Row(label: $0, revenue: 0, deals: 0) }
                    result.conversions = total
                }
                // The data-driven models share the period's attributed revenue and deals by each
                // label's share of the credited conversions.
                for i in rows.indices {
                    let s = shares[rows[i].label] ?? 0
                    rows[i].revenue = attributed * s
                    rows[i].deals = Double(withPath.count) * s
                }
            }
            for i in rows.indices where by != .content {
                rows[i].spend = spend[rows[i].label] ?? 0
                rows[i].romi = romi(rows[i].revenue, rows[i].spend)
            }
            if by != .content {
                for (label, s) in spend where !rows.contains(where: { $0.label == label }) {
                    rows.append(Row(label: label, revenue: 0, deals: 0, spend: s, romi: romi(0, s)))
                }
            }
            result.rows = rows.sorted { ($1.revenue, $0.label) < ($0.revenue, $1.label) }
            results.append(result)
        }
        return AttributionReport(
            from: from,
            to: to,
            by: by.rawValue,
            lookbackDays: lookbackDays,
            halfLifeDays: Double(halfLife) / 86_400_000,
            dealsWon: deals.count,
            revenueWon: revenueWon,
            dealsWithPath: withPath.count,
            revenueUnattributed: revenueWon - attributed,
            marketingSpend: marketingSpend,
            journeys: journeyCount,
            skippedConvertersWithoutTouch: skipped,
            models: results
        )
    }
}
