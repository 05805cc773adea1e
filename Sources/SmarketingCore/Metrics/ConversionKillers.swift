import Foundation

/// What a path feature is: a touchpoint type, a content asset or a campaign.
public enum KillerFeatureKind: String, Sendable, CaseIterable, Codable, Comparable {
    case type, content, campaign
    public static func < (a: KillerFeatureKind, b: KillerFeatureKind) -> Bool { a.rawValue < b.rawValue }
}

/// One contact's path towards the next stage: the marketing touches before it converted (or,
/// if it did not, all of them so far).
public struct KillerPath: Sendable, Hashable {
    public var converted: Bool
    /// The touches on the path: (kind, value) present at least once.
    public var features: Set<KillerFeature>
    /// How many marketing touches the path has (the stratum of "comparable paths").
    public var touches: Int
    /// The channels in time order (for the Markov removal effects).
    public var channels: [String]

    public init(converted: Bool, features: Set<KillerFeature>, touches: Int, channels: [String]) {
        self.converted = converted
        self.features = features
        self.touches = touches
        self.channels = channels
    }
}

public struct KillerFeature: Sendable, Hashable, Comparable {
    public var kind: KillerFeatureKind
    public var value: String
    public init(_ kind: KillerFeatureKind, _ value: String) {
        self.kind = kind
        self.value = value
    }
    public static func < (a: KillerFeature, b: KillerFeature) -> Bool { (a.kind, a.value) < (b.kind, b.value) }
}

/// Options of a conversion-killer analysis.
public struct KillerOptions: Sendable, Hashable {
    /// Family-wise confidence of the flags (Bonferroni over the features tested).
    public var confidence: Double
    /// A feature is tested only when at least this many paths have it and this many lack it.
    public var minPaths: Int

    public init(confidence: Double = 0.95, minPaths: Int = 20) {
        self.confidence = confidence
        self.minPaths = minPaths
    }

    public static let minPathsRange = 1...1_000_000
}

/// Touchpoint types, content and campaigns whose presence on a path goes with lower conversion to
/// the next stage than comparable paths without them (JSON schema `smarketing-killers/1`, see
/// docs/KPIS.md).
///
/// "Comparable" = the same number of marketing touches (strata 1, 2–3, 4–7, 8–15, 16+), since
/// longer paths hold more of everything and convert differently. Per feature the strata are
/// combined with the Mantel–Haenszel risk difference (the effect size: how many percentage points
/// less the paths with it convert) and the Cochran–Mantel–Haenszel test (one-sided: lower with
/// the feature), Bonferroni-adjusted over every feature tested. Written by hand: a few sums per
/// stratum, no statistics library in the dependency list does stratified tests.
public struct KillerReport: Sendable, Equatable, Codable, ExplicitNullEncodable {
    public struct Feature: Sendable, Equatable, Codable, ExplicitNullEncodable {
        public var kind: String
        public var value: String
        /// The campaign's name or the content's title, if known.
        public var name: String?
        public var pathsWith: Int64
        public var convertedWith: Int64
        public var rateWith: Double?
        public var rateWithout: Double?
        /// Mantel–Haenszel risk difference over the strata (with − without).
        public var riskDifference: Double?
        /// Crude relative risk (rate with ÷ rate without).
        public var relativeRisk: Double?
        public var z: Double?
        public var pValue: Double?
        public var pAdjusted: Double?
        public var tested: Bool
        /// Converts significantly less with it, at the report's confidence.
        public var flagged: Bool
    }
    public struct MarkovEffect: Sendable, Equatable, Codable {
        public var channel: String
        /// The usual removal effect (entering the channel ends the journey): never negative.
        public var removalEffect: Double
        /// The removal effect when the journeys that went into the channel go on elsewhere
        /// instead (transitions into it dropped, the rest renormalised): negative when it leads
        /// to null more than the alternatives do — a conversion killer.
        public var redirectEffect: Double
        /// The bootstrap interval of the redirect effect at the report's confidence (journeys
        /// resampled 200 times with a fixed seed, percentile method).
        public var redirectLow: Double
        public var redirectHigh: Double
        /// The whole interval lies below zero.
        public var flagged: Bool
    }
    public struct Settings: Sendable, Equatable, Codable {
        public var confidence: Double
        public var minPaths: Int
        public var strata: [String]
        public var test: String
    }

    public var schema = "smarketing-killers/1"
    public var period: FunnelReport.Period
    public var asOf: String
    /// The step: contacts that reached `from` in the period; converted = reached a later stage.
    public var from: String
    public var to: String
    public var paths: Int64
    public var converted: Int64
    public var rate: Double?
    public var settings: Settings
    /// Flagged features, strongest effect first.
    public var killers: [Feature]
    /// Every feature with enough paths, lowest z first.
    public var features: [Feature]
    /// Channel effects of the same journeys (exact first-order Markov), most negative redirect
    /// effect first: a negative one means the journeys would convert more going elsewhere.
    public var markov: [MarkovEffect]
    public var findings: [String]

    public static let strata: [(label: String, upTo: Int)] = [("1", 1), ("2–3", 3), ("4–7", 7), ("8–15", 15), ("16+", Int.max)]
    public static let test = "Cochran–Mantel–Haenszel over path-length strata, one-sided, Bonferroni-adjusted; effect = Mantel–Haenszel risk difference"

    static func stratum(_ touches: Int) -> Int { strata.firstIndex { touches <= $0.upTo } ?? strata.count - 1 }

    public static func build(
        period: FunnelReport.Period,
        asOf: String,
        from: FunnelStage,
        paths: [KillerPath],
        names: [KillerFeature: String],
        options: KillerOptions
    ) -> KillerReport {
        // Per stratum: paths and conversions, in total and per feature.
        let k = strata.count
        var n = [Int64](repeating: 0, count: k)
        var m = [Int64](repeating: 0, count: k)
        var withN: [KillerFeature: [Int64]] = [:]
        var withM: [KillerFeature: [Int64]] = [:]
        for p in paths where p.touches > 0 {
            let s = stratum(p.touches)
            n[s] += 1
            if p.converted { m[s] += 1 }
            for f in p.features {
                withN[f, default: [Int64](repeating: 0, count: k)][s] += 1
                if p.converted { withM[f, default: [Int64](repeating: 0, count: k)][s] += 1 }
            }
        }
        let total = n.reduce(0, +)
        let conv = m.reduce(0, +)
        var rows: [Feature] = []
        for (f, fn) in withN {
            let fm = withM[f] ?? [Int64](repeating: 0, count: k)
            let n1 = fn.reduce(0, +)
            let a1 = fm.reduce(0, +)
            guard n1 >= options.minPaths else { continue }
            let n0 = total - n1
            let a0 = conv - a1
            // Mantel–Haenszel risk difference and the CMH statistic over the strata.
            var rdNum = 0.0
            var rdDen = 0.0
            var observed = 0.0
            var expected = 0.0
            var variance = 0.0
            for s in 0..<k {
                let N = Double(n[s])
                let x1 = Double(fn[s])
                let x0 = N - x1
                guard x1 > 0, x0 > 0 else { continue }
                let a = Double(fm[s])
                let c = Double(m[s] - fm[s])
                rdNum += (a * x0 - c * x1) / N
                rdDen += x1 * x0 / N
                let mc = Double(m[s])
                observed += a
                expected += x1 * mc / N
                if N > 1 { variance += x1 * x0 * mc * (N - mc) / (N * N * (N - 1)) }
            }
            let tested = n0 >= Int64(options.minPaths) && variance > 0
            let z = tested ? (observed - expected) / variance.squareRoot() : nil
            let rateWith = FunnelReport.ratio(a1, n1)
            let rateWithout = FunnelReport.ratio(a0, n0)
            rows.append(
                Feature(
                    kind: f.kind.rawValue,
                    value: f.value,
                    name: names[f],
                    pathsWith: n1,
                    convertedWith: a1,
                    rateWith: rateWith,
                    rateWithout: rateWithout,
                    riskDifference: rdDen > 0 ? rdNum / rdDen : nil,
                    relativeRisk: rateWith.flatMap { w in rateWithout.flatMap { $0 > 0 ? w / $0 : nil } },
                    z: z,
                    pValue: z.map(ProportionTest.normalCDF),
                    pAdjusted: nil,
                    tested: tested,
                    flagged: false
                )
            )
        }
        let tests = rows.filter(\.tested).count
        let alpha = 1 - options.confidence
        for i in rows.indices {
            guard let p = rows[i].pValue else { continue }
            rows[i].pAdjusted = min(1, p * Double(tests))
            rows[i].flagged = rows[i].pAdjusted! < alpha && (rows[i].riskDifference ?? 0) < 0
        }
        rows.sort { a, b in
            let za = a.z ?? .infinity
            let zb = b.z ?? .infinity
            return za != zb ? za < zb : (a.kind, a.value) < (b.kind, b.value)
        }
        // Markov on the channel sequences of the same journeys (repeats collapse into one step).
        var journeys: [[String]: (Double, Double)] = [:]
        for p in paths where !p.channels.isEmpty {
            var steps: [String] = []
            for c in p.channels where steps.last != c { steps.append(c) }
            let v = journeys[steps] ?? (0, 0)
            journeys[steps] = p.converted ? (v.0 + 1, v.1) : (v.0, v.1 + 1)
        }
        let markov = conv > 0 ? markovEffects(paths, confidence: options.confidence) : []
        let killers = rows.filter(\.flagged).sorted { ($0.riskDifference ?? 0, $0.kind, $0.value) < ($1.riskDifference ?? 0, $1.kind, $1.value) }
        let next = (from.next ?? from).rawValue
        var report = KillerReport(
            period: period,
            asOf: asOf,
            from: from.rawValue,
            to: next,
            paths: total,
            converted: conv,
            rate: FunnelReport.ratio(conv, total),
            settings: Settings(confidence: options.confidence, minPaths: options.minPaths, strata: strata.map(\.label), test: test),
            killers: killers,
            features: rows,
            markov: markov,
            findings: []
        )
        report.findings = report.sentences(tests: tests)
        return report
    }

    /// Removal and redirect effects per channel with a bootstrap interval of the latter.
    static func markovEffects(_ paths: [KillerPath], confidence: Double, resamples: Int = 200) -> [MarkovEffect] {
        // Journeys interned once (distinct paths, label ids), so that each resample only counts.
        var pathIndex: [[String]: Int] = [:]
        var distinct: [[String]] = []
        var journeys: [(path: Int, converted: Bool)] = []
        for p in paths where !p.channels.isEmpty {
            var steps: [String] = []
            for c in p.channels where steps.last != c { steps.append(c) }
            let id: Int
            if let known = pathIndex[steps] {
                id = known
            } else {
                id = distinct.count
                pathIndex[steps] = id
                distinct.append(steps)
            }
            journeys.append((id, p.converted))
        }
        let labels = Array(Set(distinct.joined())).sorted()
        var labelIndex: [String: Int] = [:]
        for (i, label) in labels.enumerated() { labelIndex[label] = i }
        let ids = distinct.map { $0.compactMap { labelIndex[$0] } }
        func effects(_ pick: some Sequence<Int>) -> MarkovAttribution.Result {
            var conversions = [Double](repeating: 0, count: distinct.count)
            var nulls = [Double](repeating: 0, count: distinct.count)
            for i in pick {
                let j = journeys[i]
                if j.converted { conversions[j.path] += 1 } else { nulls[j.path] += 1 }
            }
            var grouped: [MarkovAttribution.IndexedJourney] = []
            for p in distinct.indices where conversions[p] + nulls[p] > 0 {
                grouped.append(MarkovAttribution.IndexedJourney(ids: ids[p], conversions: conversions[p], nulls: nulls[p]))
            }
            return MarkovAttribution.exact(labels: labels, grouped, renormalized: true)
        }
        let full = effects(journeys.indices)
        guard full.conversionProbability > 0 else { return [] }
        var samples: [String: [Double]] = [:]
        var random = SeededRandom(seed: 20_181_022)
        let n = journeys.count
        for _ in 0..<resamples {
            let r = effects((0..<n).map { _ in random.int(0...(n - 1)) })
            guard r.conversionProbability > 0 else { continue }
            for (label, e) in zip(r.labels, r.renormalizedEffects) { samples[label, default: []].append(e) }
        }
        let alpha = (1 - confidence) / 2
        return zip(full.labels, zip(full.removalEffects, full.renormalizedEffects)).map { label, e in
            let sorted = (samples[label] ?? []).sorted()
            func at(_ q: Double) -> Double { sorted.isEmpty ? e.1 : sorted[min(sorted.count - 1, max(0, Int((q * Double(sorted.count)).rounded(.down))))] }
            let low = at(alpha)
            let high = at(1 - alpha)
            return MarkovEffect(channel: label, removalEffect: e.0, redirectEffect: e.1, redirectLow: low, redirectHigh: high, flagged: high < 0)
        }.sorted { ($0.redirectEffect, $0.channel) < ($1.redirectEffect, $1.channel) }
    }

    func sentences(tests: Int) -> [String] {
        func pct(_ x: Double?) -> String { x.map { String(format: "%.1f%%", $0 * 100) } ?? "–" }
        func pp(_ x: Double?) -> String { x.map { String(format: "%+.1f pp", $0 * 100) } ?? "–" }
        let conf = "\(Int((settings.confidence * 100).rounded()))%"
        var out = ["\(paths) contacts reached \(from) in the period; \(converted) (\(pct(rate))) have reached a later stage."]
        if tests == 0 {
            out.append("Too few paths to test any feature (each needs \(settings.minPaths) paths with it and without it).")
        } else if killers.isEmpty {
            out.append("No touchpoint type, content or campaign goes with significantly lower conversion (\(tests) tested at \(conf)).")
        }
        for f in killers.prefix(10) {
            out.append(
                "\(f.kind) \(f.name.map { "\($0) (\(f.value))" } ?? f.value): \(pct(f.rateWith)) of \(f.pathsWith) paths with it convert against \(pct(f.rateWithout)) without; "
                    + "\(pp(f.riskDifference)) on comparable paths (p = \(String(format: "%.2g", f.pAdjusted ?? 1)) after Bonferroni over \(tests) tests, \(conf))."
            )
        }
        let negative = markov.filter(\.flagged)
        if !negative.isEmpty {
            out.append(
                "Journeys convert more without "
                    + negative.map {
                        "\($0.channel) (Markov redirect effect \(String(format: "%.3f", $0.redirectEffect)), \(conf) interval \(String(format: "%.3f", $0.redirectLow)) … \(String(format: "%.3f", $0.redirectHigh)))"
                    }
                    .joined(separator: ", ") + "."
            )
        }
        return out
    }
}
