/// The "simplified Shapley value" of Zhao et al. (2018): players are labels (channels); the value
/// of a coalition S is the conversions of the journeys whose label set is a subset of S.
///
/// That game is a sum of unanimity games — one per journey, worth its conversions, on its label
/// set T — and the Shapley value of a unanimity game gives each member of T an equal 1/|T|. So
/// the value is exact for any number of labels in one pass over the journeys: each journey's
/// conversions split equally over its distinct labels. No sampling is needed beyond 15 channels;
/// `byEnumeration` computes the textbook subset sum and the tests hold the two equal.
public enum ShapleyAttribution {
    /// Conversions per label, exact.
    public static func values(_ paths: [JourneyPath]) -> [String: Double] {
        var out: [String: Double] = [:]
        for p in paths {
            let set = Set(p.labels)
            guard !set.isEmpty else { continue }
            for label in set { out[label, default: 0] += p.conversions / Double(set.count) }
            if p.conversions == 0 { for label in set where out[label] == nil { out[label] = 0 } }
        }
        return out
    }

    /// The Shapley value by enumerating every coalition (2^n; for checking, n ≤ 15).
    public static func byEnumeration(_ paths: [JourneyPath]) -> [String: Double] {
        let labels = Array(Set(paths.flatMap(\.labels))).sorted()
        let n = labels.count
        precondition(n <= 15, "enumeration is for small games")
        let index = Dictionary(uniqueKeysWithValues: labels.enumerated().map { ($1, $0) })
        // v(S) for every coalition mask.
        var masks: [(Int, Double)] = []
        for p in paths where !p.labels.isEmpty {
            masks.append((p.labels.reduce(0) { $0 | (1 << index[$1]!) }, p.conversions))
        }
        var value = [Double](repeating: 0, count: 1 << n)
        for s in 0..<(1 << n) {
            for (m, w) in masks where m & s == m { value[s] += w }
        }
        var factorial = [Double](repeating: 1, count: n + 1)
        for i in stride(from: 1, through: n, by: 1) { factorial[i] = factorial[i - 1] * Double(i) }
        var out: [String: Double] = [:]
        for (c, label) in labels.enumerated() {
            var phi = 0.0
            for s in 0..<(1 << n) where s & (1 << c) == 0 {
                let size = s.nonzeroBitCount
                phi += factorial[size] * factorial[n - size - 1] / factorial[n] * (value[s | (1 << c)] - value[s])
            }
            out[label] = phi
        }
        return out
    }
}
