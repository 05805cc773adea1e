import Foundation
import Testing

@testable import SmarketingCore

@Suite("Rule-based attribution")
struct RuleAttributionTests {
    let day: Int64 = 86_400_000
    let close = Timestamp(seconds: 1_767_225_600)

    func path(_ n: Int, lc: Int, oc: Int) -> AttributionPath {
        AttributionPath(times: (0..<n).map { close.adding(milliseconds: -Int64(n - $0) * 86_400_000) }, leadCreation: lc, opportunityCreation: oc, close: close)
    }

    func near(_ a: [Double], _ b: [Double]) -> Bool { a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) < 1e-12 } }

    @Test("five touches, LC second, OC fourth: every model by hand")
    func handComputed() {
        let p = path(5, lc: 1, oc: 3)
        #expect(near(RuleAttribution.weights(.firstTouch, p), [1, 0, 0, 0, 0]))
        #expect(near(RuleAttribution.weights(.lastTouch, p), [0, 0, 0, 0, 1]))
        #expect(near(RuleAttribution.weights(.leadCreation, p), [0, 1, 0, 0, 0]))
        #expect(near(RuleAttribution.weights(.linear, p), [0.2, 0.2, 0.2, 0.2, 0.2]))
        #expect(near(RuleAttribution.weights(.uShaped, p), [0.4, 0.4, 0.2 / 3, 0.2 / 3, 0.2 / 3]))
        #expect(near(RuleAttribution.weights(.wShaped, p), [0.3, 0.3, 0.05, 0.3, 0.05]))
        #expect(near(RuleAttribution.weights(.fullPath, p), [0.225, 0.225, 0.1, 0.225, 0.225]))  // the one other touch takes the whole 10%
    }

    @Test("special positions on the same touch add up; without other touches the rest follows the special shares")
    func coinciding() {
        // LC on the first touch, OC on the last: W gives 0.6 / 0.1 / 0.3.
        #expect(near(RuleAttribution.weights(.wShaped, path(3, lc: 0, oc: 2)), [0.6, 0.1, 0.3]))
        // Two touches, full path: FT+LC = 0.45 and OC+CW = 0.45, no other touch for the 10%.
        #expect(near(RuleAttribution.weights(.fullPath, path(2, lc: 0, oc: 1)), [0.5, 0.5]))
        // U with LC on the first touch: 0.8 on it, 0.2 over the others.
        #expect(near(RuleAttribution.weights(.uShaped, path(3, lc: 0, oc: 0)), [0.8, 0.1, 0.1]))
    }

    @Test("one touch gets everything; an empty path nothing; weights always sum to 1")
    func sums() {
        for m in RuleModel.allCases {
            #expect(RuleAttribution.weights(m, path(1, lc: 0, oc: 0)) == [1])
            #expect(RuleAttribution.weights(m, AttributionPath(times: [], leadCreation: 0, opportunityCreation: 0, close: close)).isEmpty)
        }
        var rng = SeededRandom(seed: 3)
        for _ in 0..<200 {
            let n = rng.int(2...12)
            let p = path(n, lc: rng.int(0...(n - 1)), oc: rng.int(0...(n - 1)))
            for m in RuleModel.allCases { #expect(abs(RuleAttribution.weights(m, p).reduce(0, +) - 1) < 1e-12, "\(m)") }
        }
    }

    @Test("time decay halves per half-life before the close")
    func timeDecay() {
        let p = AttributionPath(times: [close.adding(milliseconds: -7 * day), close], leadCreation: 0, opportunityCreation: 0, close: close)
        #expect(near(RuleAttribution.weights(.timeDecay, p), [1.0 / 3, 2.0 / 3]))
        #expect(near(RuleAttribution.weights(.timeDecay, p, halfLife: 14 * day), [sqrt(0.5) / (1 + sqrt(0.5)), 1 / (1 + sqrt(0.5))]))
    }
}
