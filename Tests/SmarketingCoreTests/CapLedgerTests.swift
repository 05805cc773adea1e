import Foundation
import Testing

@testable import SmarketingCore

@Suite("Caps on engagement points")
struct CapLedgerTests {
    let day: Int64 = 86_400_000
    let monday = try! Timestamp.parse("2026-03-02T08:00:00Z").get()

    @Test("per-day, per-week and total caps cut in time order")
    func caps() {
        var ledger = CapLedger(caps: PointCaps(perDay: 10, perWeek: 25, total: 40))
        var granted: [Double] = []
        for (i, offset) in [0, 1, 2, 24, 25, 48, 49, 24 * 7, 24 * 7 + 1, 24 * 14].enumerated() {
            let changes = ledger.record(id: "e\(i)", at: monday.adding(milliseconds: Int64(offset) * 3_600_000), points: 4)
            granted.append(changes.last!.1)
        }
        // Monday: 4, 4, 2 (day cap 10); Tuesday: 4, 4; Wednesday: 4, then 3 (week cap 25);
        // next Monday: 4, 4; two weeks on: 4 (total 37 of 40).
        #expect(granted == [4, 4, 2, 4, 4, 4, 3, 4, 4, 4])
        #expect(ledger.entries.map(\.granted) == granted)
        #expect(ledger.grantedTotal == 37)
        #expect(ledger.record(id: "late", at: monday.adding(milliseconds: 24 * 15 * 3_600_000), points: 4).last!.1 == 3)  // total cap
        #expect(ledger.record(id: "later", at: monday.adding(milliseconds: 24 * 16 * 3_600_000), points: 4).last!.1 == 0)
        // A late event on the first Monday takes the day's room in time order: the 2 granted at 02:00 go to it.
        let changes = ledger.record(id: "early", at: monday.adding(milliseconds: -3_600_000), points: 4)
        #expect(changes.first!.1 == 4)
        #expect(ledger.grantedTotal == 40)
        #expect(ledger.record(id: "e0", at: monday, points: 4).isEmpty)  // re-sent: nothing changes
    }

    @Test("the same events in any order give the same grants and the same decayed score")
    func orderIndependent() {
        var rng = SeededRandom(seed: 7)
        let events: [(String, Timestamp, Double)] = (0..<120).map { i in
            ("e\(i)", monday.adding(milliseconds: Int64(rng.unit() * 30 * Double(day))), Double(rng.int(1...6)))
        }
        let caps = PointCaps(perDay: 9, perWeek: 30, total: 100)
        var reference = CapLedger(caps: caps)
        var referenceScore = EngagementScore(halfLife: 7 * day)
        for e in events.sorted(by: { ($0.1, $0.0) < ($1.1, $1.0) }) {
            for (t, delta) in reference.record(id: e.0, at: e.1, points: e.2) { referenceScore.add(delta, at: t) }
        }
        let now = monday.adding(milliseconds: 40 * day)
        for _ in 0..<10 {
            var shuffled = events
            for i in shuffled.indices.reversed() { shuffled.swapAt(i, rng.int(0...i)) }
            var ledger = CapLedger(caps: caps)
            var score = EngagementScore(halfLife: 7 * day)
            for e in shuffled + shuffled.prefix(10) {  // with re-sent events
                for (t, delta) in ledger.record(id: e.0, at: e.1, points: e.2) { score.add(delta, at: t) }
            }
            #expect(ledger == reference)
            #expect(abs(score.value(at: now) - referenceScore.value(at: now)) < 1e-9)
        }
        #expect(reference.grantedTotal <= 100)
    }

    @Test("negative points are never capped")
    func negative() {
        var ledger = CapLedger(caps: PointCaps(perDay: 5))
        _ = ledger.record(id: "a", at: monday, points: 5)
        #expect(ledger.record(id: "b", at: monday, points: -20).last!.1 == -20)
        #expect(ledger.record(id: "c", at: monday.adding(milliseconds: 1000), points: 5).last!.1 == 0)
    }

    @Test("weeks start on Monday, days at UTC midnight")
    func windows() {
        let sunday = try! Timestamp.parse("2026-03-01T23:59:59Z").get()
        #expect(CapLedger.weekIndex(sunday) + 1 == CapLedger.weekIndex(monday))
        #expect(CapLedger.dayIndex(sunday) + 1 == CapLedger.dayIndex(monday))
        #expect(CapLedger.weekIndex(monday) == CapLedger.weekIndex(monday.adding(milliseconds: 6 * day)))
    }
}
