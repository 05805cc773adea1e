/// One aggregated journey: its path of labels (channels, campaigns or content) and how many
/// people took it and converted or not.
public struct JourneyPath: Sendable, Hashable {
    public var labels: [String]
    public var conversions: Double
    public var nulls: Double

    /// Creates a path.
    public init(labels: [String], conversions: Double, nulls: Double) {
        self.labels = labels
        self.conversions = conversions
        self.nulls = nulls
    }
}

/// First-order Markov-chain attribution with exact removal effects.
///
/// The chain: a start state, one state per label, and two absorbing states (conversion, null).
/// Transition probabilities are the empirical counts of the paths, weighted by the number of
/// journeys (conversions + nulls). P(conversion) from the start is the absorbing-chain solution
/// of (I − Q) x = R (no simulation). Removing a label makes entering it lead to null; its
/// removal effect is 1 − P(conversion without it) ÷ P(conversion), and its share of the
/// conversions is the removal effect ÷ the sum of all removal effects.
///
/// Repeated consecutive labels are self-loops; they do not change absorption probabilities, so
/// the result is the same whether or not a caller collapses them.
///
/// Written by hand: it is a dense linear solve of at most a few hundred unknowns per label, and
/// the core takes no dependencies (Accelerate/LAPACK are not on Linux by default).
public enum MarkovAttribution {
    /// The result for each label, in label order.
    public struct Result: Sendable, Hashable {
        public var labels: [String]
        public var removalEffects: [Double]
        /// Conversions attributed to each label (they sum to the total conversions).
        public var attributed: [Double]
        /// P(conversion) from the start of the full chain.
        public var conversionProbability: Double
        public var totalConversions: Double
        /// With `renormalized`: 1 − P(conversion when each state's transitions into the label are
        /// dropped and the rest renormalised) ÷ P(conversion) — "the journeys would have gone on
        /// elsewhere". Negative when the label leads to null more than its alternatives do (a
        /// conversion killer); a state whose only exit is the label ends in null.
        public var renormalizedEffects: [Double] = []
    }

    /// Exact removal effects of the labels of `paths` (empty paths are ignored).
    public static func exact(_ paths: [JourneyPath], renormalized: Bool = false) -> Result {
        let labels = Array(Set(paths.flatMap(\.labels))).sorted()
        var index: [String: Int] = [:]
        for (i, label) in labels.enumerated() { index[label] = i }
        let indexed = paths.map { IndexedJourney(ids: $0.labels.compactMap { index[$0] }, conversions: $0.conversions, nulls: $0.nulls) }
        return exact(labels: labels, indexed, renormalized: renormalized)
    }

    /// One aggregated journey over interned labels: `ids` index the label list it is solved with.
    public struct IndexedJourney: Sendable, Hashable {
        public var ids: [Int]
        public var conversions: Double
        public var nulls: Double

        public init(ids: [Int], conversions: Double, nulls: Double) {
            self.ids = ids
            self.conversions = conversions
            self.nulls = nulls
        }
    }

    /// Exact removal effects over interned labels (for callers that solve many chains over the
    /// same labels, e.g. a bootstrap: no label is hashed per solve). The result holds the labels
    /// some path uses, in the order of `labels` (sorted for the same result as `exact(_:)`); ids
    /// outside `labels` are ignored.
    public static func exact(labels allLabels: [String], _ paths: [IndexedJourney], renormalized: Bool = false) -> Result {
        var used = [Bool](repeating: false, count: allLabels.count)
        for p in paths {
            for id in p.ids where allLabels.indices.contains(id) { used[id] = true }
        }
        var compact = [Int](repeating: -1, count: allLabels.count)
        var labels: [String] = []
        for i in allLabels.indices where used[i] {
            compact[i] = labels.count
            labels.append(allLabels[i])
        }
        let k = labels.count
        let n = k + 1  // transient states: the labels, then the start (index k)
        var counts = [Double](repeating: 0, count: n * n)
        var conv = [Double](repeating: 0, count: n)
        var out = [Double](repeating: 0, count: n)
        var total = 0.0
        for p in paths {
            // Walked without building the compacted path (a bootstrap solves thousands of chains).
            let w = p.conversions + p.nulls
            var previous = k  // the start state
            var any = false
            for raw in p.ids where allLabels.indices.contains(raw) {
                let id = compact[raw]
                counts[previous * n + id] += w
                out[previous] += w
                previous = id
                any = true
            }
            guard any else { continue }
            total += p.conversions
            conv[previous] += p.conversions
            out[previous] += w
        }
        func probability(removing removed: Int?, renormalize: Bool = false) -> Double {
            // (I − Q) x = R, written into one augmented matrix.
            var m = [Double](repeating: 0, count: n * (n + 1))
            for i in 0..<n {
                m[i * (n + 1) + i] = 1
                let total = renormalize ? out[i] - (removed.map { counts[i * n + $0] } ?? 0) : out[i]
                guard i != removed, total > 0 else { continue }
                for j in 0..<n where j != removed && counts[i * n + j] != 0 {
                    m[i * (n + 1) + j] -= counts[i * n + j] / total
                }
                m[i * (n + 1) + n] = conv[i] / total
            }
            return solve(&m, n)[k]
        }
        let base = probability(removing: nil)
        let effects = (0..<k).map { c in base > 0 ? 1 - probability(removing: c) / base : 0 }
        let sum = effects.reduce(0, +)
        var result = Result(
            labels: labels,
            removalEffects: effects,
            attributed: effects.map { sum > 0 ? total * $0 / sum : 0 },
            conversionProbability: base,
            totalConversions: total
        )
        if renormalized {
            result.renormalizedEffects = (0..<k).map { c in base > 0 ? 1 - probability(removing: c, renormalize: true) / base : 0 }
        }
        return result
    }

    /// Solves the n × n system in the augmented row-major matrix by Gaussian elimination with
    /// partial pivoting; returns x.
    static func solve(_ m: inout [Double], _ n: Int) -> [Double] {
        let w = n + 1
        for col in 0..<n {
            var pivot = col
            for r in (col + 1)..<n where abs(m[r * w + col]) > abs(m[pivot * w + col]) { pivot = r }
            if pivot != col {
                for j in col..<w { m.swapAt(col * w + j, pivot * w + j) }
            }
            let p = m[col * w + col]
            guard p != 0 else { continue }
            for r in (col + 1)..<n {
                let f = m[r * w + col] / p
                guard f != 0 else { continue }
                for j in col..<w { m[r * w + j] -= f * m[col * w + j] }
            }
        }
        var x = [Double](repeating: 0, count: n)
        for i in stride(from: n - 1, through: 0, by: -1) {
            var s = m[i * w + n]
            for j in (i + 1)..<n { s -= m[i * w + j] * x[j] }
            let d = m[i * w + i]
            x[i] = d != 0 ? s / d : 0
        }
        return x
    }
}
