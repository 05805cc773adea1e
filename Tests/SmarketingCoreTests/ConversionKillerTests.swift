import Foundation
import Testing

@testable import SmarketingCore

@Suite("Conversion killers: stratified effect, test and Markov")
struct ConversionKillerTests {
    let period = FunnelReport.Period(from: "2026-01-01", to: "2026-04-01", timeZone: "UTC")

    func paths(_ n: Int, converted: Int, touches: Int, with features: Set<KillerFeature>, channels: [String] = ["email"]) -> [KillerPath] {
        (0..<n).map { KillerPath(converted: $0 < converted, features: features, touches: touches, channels: channels) }
    }

    @Test("a hand-computed Mantel–Haenszel difference and CMH test over two path-length strata")
    func handComputed() {
        let webinar = KillerFeature(.type, "webinar_attended")
        let ad = KillerFeature(.type, "ad_click")
        // 1 touch: 10 with the ad click (2 convert), 30 without (15); 5 touches: 20 with (8), 20 without (14).
        let all =
            paths(10, converted: 2, touches: 1, with: [ad]) + paths(30, converted: 15, touches: 1, with: [webinar])
            + paths(20, converted: 8, touches: 5, with: [ad, webinar]) + paths(20, converted: 14, touches: 5, with: [webinar])
        let r = KillerReport.build(period: period, asOf: "2026-04-01T00:00:00Z", from: .mql, paths: all, names: [:], options: KillerOptions(minPaths: 10))
        #expect(r.paths == 80 && r.converted == 39 && r.to == "sal")
        let f = r.features.first { $0.value == "ad_click" }!
        #expect(f.pathsWith == 30 && f.convertedWith == 10)
        #expect(f.rateWith == 10.0 / 30 && f.rateWithout == 29.0 / 50)
        // RD_MH = Σ(a·n0 − c·n1)/N ÷ Σ n1·n0/N = (−2.25 − 3) ÷ (7.5 + 10) = −0.3
        #expect(abs(f.riskDifference! - -0.3) < 1e-12)
        // CMH: observed 10, expected 4.25 + 11, variance 1.879808 + 2.538462 → z = −2.497659, one-sided p = 0.0062508
        #expect(abs(f.z! - -2.4976594) < 1e-6)
        #expect(abs(f.pValue! - 0.0062508) < 1e-6)
        // two features tested (webinar_attended is on 70 paths, without it only 10): Bonferroni × 2
        let w = r.features.first { $0.value == "webinar_attended" }!
        #expect(w.tested && r.features.filter(\.tested).count == 2)
        #expect(abs(f.pAdjusted! - 2 * f.pValue!) < 1e-12 && f.flagged)
        #expect(r.killers.map(\.value) == ["ad_click"])
        #expect(r.findings.contains { $0.hasPrefix("type ad_click: 33.3% of 30 paths with it convert against 58.0% without; -30.0 pp") })
    }

    @Test("too few paths: not tested; a feature that only looks bad because of path length is not flagged")
    func confounding() {
        let ad = KillerFeature(.type, "ad_click")
        // Within each stratum the ad click changes nothing (both 20% and 80%), but it sits mostly on short
        // paths, which convert less: crude rates differ, the stratified effect is zero.
        let all =
            paths(40, converted: 8, touches: 1, with: [ad]) + paths(10, converted: 2, touches: 1, with: [])
            + paths(10, converted: 8, touches: 6, with: [ad]) + paths(40, converted: 32, touches: 6, with: [])
        let r = KillerReport.build(period: period, asOf: "x", from: .mql, paths: all, names: [:], options: KillerOptions(minPaths: 10))
        let f = r.features.first { $0.value == "ad_click" }!
        #expect(f.rateWith! < f.rateWithout!)  // crude: 32% against 68%
        #expect(abs(f.riskDifference!) < 1e-12 && abs(f.z!) < 1e-12 && !f.flagged)
        let few = KillerReport.build(period: period, asOf: "x", from: .mql, paths: all, names: [:], options: KillerOptions(minPaths: 60))
        #expect(few.features.isEmpty && few.findings.contains { $0.hasPrefix("Too few paths") })
    }

    @Test("a channel leading to null more than the alternatives has a negative redirect effect")
    func negativeMarkov() {
        // email → conversion; display → null; email → display → null: display only loses journeys.
        let all =
            paths(50, converted: 40, touches: 1, with: [], channels: ["email"]) + paths(30, converted: 0, touches: 1, with: [], channels: ["display"])
            + paths(20, converted: 0, touches: 2, with: [], channels: ["email", "display", "display"])
        let r = KillerReport.build(period: period, asOf: "x", from: .lead, paths: all, names: [:], options: KillerOptions())
        // Full chain: start → email 70, display 30; email → conversion 40, null 10, display 20; display → null 50.
        // P = 0.7 · 40/70 = 0.4. Redirected: email's 20 display transitions dropped → email converts 40/50 and
        // start goes to email only: P' = 0.8, so the effect is 1 − 0.8/0.4 = −1.
        let display = r.markov.first { $0.channel == "display" }!
        #expect(display.removalEffect == 0)  // the usual removal effect: nothing converts through it, and it is never negative
        #expect(abs(display.redirectEffect - -1) < 1e-12)
        #expect(display.flagged && display.redirectLow <= display.redirectEffect && display.redirectHigh < 0)
        #expect(!r.markov.first { $0.channel == "email" }!.flagged)
        #expect(r.markov.first?.channel == "display")
        #expect(r.findings.contains { $0.hasPrefix("Journeys convert more without display") })
    }
}
