import Testing

@testable import SmarketingCore

@Suite("Shapley attribution (simplified Shapley value)")
struct ShapleyAttributionTests {
    @Test("a hand-computed game: each journey's conversions split over its distinct channels")
    func handComputed() {
        // {email, search}: 2 conversions; {email}: 1; {search, social, email}: 3; {social}: 0 (4 nulls).
        let paths = [
            JourneyPath(labels: ["email", "search", "email"], conversions: 2, nulls: 1),
            JourneyPath(labels: ["email"], conversions: 1, nulls: 5),
            JourneyPath(labels: ["search", "social", "email"], conversions: 3, nulls: 0),
            JourneyPath(labels: ["social"], conversions: 0, nulls: 4),
        ]
        let v = ShapleyAttribution.values(paths)
        #expect(v == ["email": 1 + 1 + 1, "search": 1 + 1, "social": 1])
        let e = ShapleyAttribution.byEnumeration(paths)
        for (k, x) in v { #expect(abs(e[k]! - x) < 1e-12, "\(k)") }
    }

    @Test("the one-pass value equals the coalition enumeration on random games; values sum to the conversions")
    func random() {
        var rng = SeededRandom(seed: 21)
        let labels = (0..<9).map { "c\($0)" }
        for _ in 0..<20 {
            var paths: [JourneyPath] = []
            for _ in 0..<rng.int(1...40) {
                paths.append(
                    JourneyPath(
                        labels: (0..<rng.int(1...5)).map { _ in rng.element(labels) },
                        conversions: Double(rng.int(0...4)),
                        nulls: Double(rng.int(0...4))
                    )
                )
            }
            let v = ShapleyAttribution.values(paths)
            let e = ShapleyAttribution.byEnumeration(paths)
            #expect(Set(v.keys) == Set(e.keys))
            for (k, x) in v { #expect(abs(e[k]! - x) < 1e-9, "\(k)") }
            #expect(abs(v.values.reduce(0, +) - paths.reduce(0) { $0 + $1.conversions }) < 1e-9)
        }
    }
}
