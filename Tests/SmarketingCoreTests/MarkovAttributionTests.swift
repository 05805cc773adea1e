import Testing

@testable import SmarketingCore

@Suite("Markov attribution (exact removal effects)")
struct MarkovAttributionTests {
    /// A > B (1 conversion), A (1 null), B (1 conversion, 1 null). By hand: start → A or B with
    /// 1/2 each; A → B 1/2, A → null 1/2; B → conversion 2/3. P(conversion) = 1/2·1/3 + 1/2·2/3
    /// = 1/2. Without A: 1/2·2/3 = 1/3 → removal effect 1/3; without B: 0 → 1. Attributed: 2
    /// conversions split 1/3 : 1 → 0.5 and 1.5.
    let paths = [
        JourneyPath(labels: ["A", "B"], conversions: 1, nulls: 0),
        JourneyPath(labels: ["A"], conversions: 0, nulls: 1),
        JourneyPath(labels: ["B"], conversions: 1, nulls: 1),
    ]

    @Test("a hand-computed chain")
    func handComputed() {
        let r = MarkovAttribution.exact(paths)
        #expect(r.labels == ["A", "B"])
        #expect(abs(r.conversionProbability - 0.5) < 1e-12)
        #expect(abs(r.removalEffects[0] - 1.0 / 3) < 1e-12 && abs(r.removalEffects[1] - 1) < 1e-12)
        #expect(abs(r.attributed[0] - 0.5) < 1e-12 && abs(r.attributed[1] - 1.5) < 1e-12)
    }

    @Test("interned labels give the same result; unused labels and ids outside the list are left out")
    func interned() {
        let labels = ["A", "B", "C", "Z"]
        let indexed = [
            MarkovAttribution.IndexedJourney(ids: [0, 1], conversions: 1, nulls: 0),
            MarkovAttribution.IndexedJourney(ids: [0, 7, -1], conversions: 0, nulls: 1),
            MarkovAttribution.IndexedJourney(ids: [1], conversions: 1, nulls: 1),
            MarkovAttribution.IndexedJourney(ids: [9], conversions: 3, nulls: 0),
        ]
        let r = MarkovAttribution.exact(labels: labels, indexed, renormalized: true)
        let plain = MarkovAttribution.exact(paths, renormalized: true)
        #expect(r == plain)
        #expect(r.labels == ["A", "B"])
    }

    @Test("repeated labels are self-loops and change nothing; empty paths are ignored")
    func selfLoops() {
        var looped = paths
        looped[0].labels = ["A", "A", "B", "B", "B"]
        looped.append(JourneyPath(labels: [], conversions: 5, nulls: 5))
        let a = MarkovAttribution.exact(paths)
        let b = MarkovAttribution.exact(looped)
        for i in 0..<2 { #expect(abs(a.removalEffects[i] - b.removalEffects[i]) < 1e-12) }
        #expect(b.totalConversions == 2)
    }

    @Test("attributed conversions sum to the total; a label on no converting path gets nothing")
    func sums() {
        var rng = SeededRandom(seed: 11)
        let labels = ["email", "search", "social", "events", "direct"]
        var ps: [JourneyPath] = []
        for _ in 0..<300 {
            let n = rng.int(1...6)
            ps.append(JourneyPath(labels: (0..<n).map { _ in rng.element(labels) }, conversions: Double(rng.int(0...3)), nulls: Double(rng.int(0...9))))
        }
        ps.append(JourneyPath(labels: ["print"], conversions: 0, nulls: 4))
        let r = MarkovAttribution.exact(ps)
        #expect(abs(r.attributed.reduce(0, +) - r.totalConversions) < 1e-9)
        #expect(r.removalEffects[r.labels.firstIndex(of: "print")!] == 0)
        #expect(r.removalEffects.allSatisfy { $0 >= -1e-12 && $0 <= 1 + 1e-12 })
    }

    @Test("no conversions: every effect is zero")
    func none() {
        let r = MarkovAttribution.exact([JourneyPath(labels: ["A"], conversions: 0, nulls: 3)])
        #expect(r.conversionProbability == 0 && r.removalEffects == [0] && r.attributed == [0])
    }
}
