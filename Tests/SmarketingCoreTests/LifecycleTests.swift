import Foundation
import Testing

@testable import SmarketingCore

@Suite("Lifecycle state machine")
struct LifecycleTests {
    let t = Timestamp(seconds: 1_767_225_600)

    func move(
        _ from: LifecycleStage?,
        _ to: LifecycleStage,
        actor: LifecycleActor = .rule("mql"),
        reason: String? = nil
    ) -> Result<LifecycleTransition, LifecycleRefusal> {
        Lifecycle.move(from: from, to: to, at: t, actor: actor, reason: reason, modelVersion: 3)
    }

    @Test("every forward move along the funnel is allowed, skipping stages too")
    func forward() throws {
        for (i, from) in LifecycleStage.funnel.enumerated() {
            for to in LifecycleStage.funnel[(i + 1)...] {
                let tr = try move(from, to).get()
                #expect(tr.from == from && tr.to == to && tr.at == t && tr.modelVersion == 3)
            }
        }
        #expect(try move(nil, .lead).get().from == nil)
    }

    @Test("no move goes back along the funnel, and no move stays put")
    func backward() {
        for (i, from) in LifecycleStage.funnel.enumerated() {
            for to in LifecycleStage.funnel[...i] {
                let expected: LifecycleRefusal = from == to ? .alreadyThere(to) : .backwards(from: from, to: to)
                #expect(throws: expected) { try move(from, to, actor: .user("u1")).get() }
            }
        }
    }

    @Test("recycle and disqualify: from any stage before customer, with a reason")
    func sideStates() throws {
        for from in LifecycleStage.funnel where from != .customer {
            for side in [LifecycleStage.recycled, .disqualified] {
                #expect(try move(from, side, actor: .user("u1"), reason: "timing").get().reason == "timing")
                #expect(throws: LifecycleRefusal.needsReason(side)) { try move(from, side, actor: .user("u1")).get() }
                #expect(throws: LifecycleRefusal.needsReason(side)) { try move(from, side, actor: .user("u1"), reason: "").get() }
            }
        }
        #expect(throws: LifecycleRefusal.terminal(.customer)) { try move(.customer, .recycled, reason: "x").get() }
        #expect(throws: LifecycleRefusal.terminal(.customer)) { try move(.customer, .disqualified, reason: "x").get() }
        #expect(try move(.recycled, .disqualified, reason: "student").get().to == .disqualified)
        #expect(throws: LifecycleRefusal.terminal(.disqualified)) { try move(.disqualified, .recycled, reason: "x").get() }
    }

    @Test("a recycled contact qualifies again from lead on")
    func recycledReentry() throws {
        for to in LifecycleStage.funnel where to != .subscriber {
            #expect(try move(.recycled, to).get().to == to)
        }
        #expect(throws: LifecycleRefusal.backwards(from: .recycled, to: .subscriber)) { try move(.recycled, .subscriber).get() }
    }

    @Test("only a person reopens a disqualified contact, and only to lead")
    func reopen() throws {
        #expect(try move(.disqualified, .lead, actor: .user("manager")).get().actor == .user("manager"))
        #expect(throws: LifecycleRefusal.onlyPeopleReopen) { try move(.disqualified, .lead, actor: .rule("mql")).get() }
        #expect(throws: LifecycleRefusal.onlyPeopleReopen) { try move(.disqualified, .mql, actor: .user("manager")).get() }
        #expect(throws: LifecycleRefusal.onlyPeopleReopen) { try move(.disqualified, .opportunity, actor: .system("opportunity created")).get() }
    }

    @Test("imported history becomes transitions in time order, by the importer")
    func imported() {
        let h = Lifecycle.importedHistory(
            [.mql: Timestamp(seconds: 300), .lead: Timestamp(seconds: 100), .sal: Timestamp(seconds: 300), .recycled: Timestamp(seconds: 900)],
            recycleReason: "no budget"
        )
        #expect(h.map(\.to) == [.lead, .mql, .sal, .recycled])
        #expect(h.map(\.from) == [nil, .lead, .mql, .sal])
        #expect(h.allSatisfy { $0.actor == .importer })
        #expect(h.last?.reason == "no budget")
        #expect(LifecycleStage.mql.historyColumn == "became_mql_at")
    }
}

@Suite("Engagement score decay")
struct EngagementScoreTests {
    let day: Int64 = 86_400_000

    @Test("a score halves every half-life")
    func halfLife() {
        var s = EngagementScore(halfLife: 7 * day)
        let t0 = Timestamp(seconds: 1_700_000_000)
        s.add(40, at: t0)
        #expect(s.value(at: t0) == 40)
        #expect(abs(s.value(at: t0.adding(milliseconds: 7 * day)) - 20) < 1e-12)
        #expect(abs(s.value(at: t0.adding(milliseconds: 21 * day)) - 5) < 1e-12)
        #expect(abs(s.value(at: t0.adding(milliseconds: -7 * day)) - 80) < 1e-12)
    }

    @Test("the stored pair equals the sum over events, in any arrival order")
    func orderIndependent() {
        var rng = SeededRandom(seed: 42)
        let base = try! Timestamp.parse("2024-12-20T00:00:00Z").get()  // across a year end and two DST switches
        let events: [(Double, Timestamp)] = (0..<200).map { _ in
            (Double(rng.int(-10...25)), base.adding(milliseconds: Int64(rng.unit() * 200 * Double(day))))
        }
        let now = base.adding(milliseconds: 220 * day)
        let expected = events.reduce(0.0) { $0 + $1.0 * exp2(-Double(now.milliseconds - $1.1.milliseconds) / Double(10 * day)) }
        for _ in 0..<20 {
            var shuffled = events
            for i in shuffled.indices.reversed() { shuffled.swapAt(i, rng.int(0...i)) }
            var s = EngagementScore(halfLife: 10 * day)
            for (p, t) in shuffled { s.add(p, at: t) }
            #expect(abs(s.value(at: now) - expected) <= 1e-9 * max(1, abs(expected)))
        }
    }

    @Test("negative points lower the score and decay like the rest")
    func negative() {
        var s = EngagementScore(halfLife: day)
        let t0 = Timestamp(seconds: 0)
        s.add(30, at: t0)
        s.add(-50, at: t0)
        #expect(s.value(at: t0) == -20)
        #expect(abs(s.value(at: t0.adding(milliseconds: day)) + 10) < 1e-12)
        #expect(abs(s.contribution(of: 8, earnedAt: t0, now: t0.adding(milliseconds: 3 * day)) - 1) < 1e-12)
    }
}
