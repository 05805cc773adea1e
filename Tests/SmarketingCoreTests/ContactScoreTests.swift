import Foundation
import Testing

@testable import SmarketingCore

@Suite("Contact scoring, stored form and backtest")
struct ContactScoreTests {
    let day: Int64 = 86_400_000
    let t0 = try! Timestamp.parse("2026-03-02T09:00:00Z").get()

    var model: ScoringModel {
        let rule = try! MQLRule.parse("engagement >= 40 and grade >= B").get()
        return ScoringModel(
            fit: FitModel(
                rules: [
                    FitRule(id: "size", attribute: "account.employees", condition: .atLeast(200), points: 30),
                    FitRule(id: "cmo", attribute: "contact.persona_id", condition: .oneOf(["per-cmo"]), points: 20),
                    FitRule(id: "no-company", attribute: "contact.account_id", condition: .isEmpty, points: -25),
                ],
                bands: GradeBands([("A", 50), ("B", 30), ("C", 10)])
            ),
            engagement: EngagementModel(
                rules: [
                    EngagementRule(id: "pricing", points: 15, types: ["page_view"], url: "*/pricing*", caps: PointCaps(perDay: 15)),
                    EngagementRule(id: "demo", points: 30, types: ["form_submit"]),
                    EngagementRule(id: "unsubscribe", points: -30, types: ["unsubscribe"]),
                ],
                halfLife: 7 * day
            ),
            mql: rule,
            mqlText: "engagement >= 40 and grade >= B"
        )
    }

    var personas: [PersonaDefinition] { [PersonaDefinition(id: "per-cmo", titles: ["cmo", "chief marketing*"])] }

    func profile(title: String? = "CMO", employees: String? = "500", persona: String? = nil) -> ContactProfile {
        var c: [String: String] = ["account_id": "a1"]
        if let title { c["title"] = title }
        if let persona { c["persona_id"] = persona }
        var a: [String: String] = [:]
        if let employees { a["employees"] = employees }
        return ContactProfile(contact: c, account: a)
    }

    func touch(_ id: String, _ type: String, hours: Int64, url: String? = nil) -> TouchFacts {
        TouchFacts(id: id, at: t0.adding(milliseconds: hours * 3_600_000), type: type, properties: url.map { ["url": $0] } ?? [:])
    }

    @Test("the persona is matched, used by fit rules, and one set by hand is kept")
    func personaAndFit() {
        let scorer = Scorer(model: model, version: 1, personas: personas)
        let s = scorer.newState(profile(), lastAssigned: nil)
        #expect(s.personaID == "per-cmo" && !s.personaByHand && s.personaReasons == ["title \"CMO\" matches \"cmo\""])
        #expect(s.fitPoints == 50 && s.grade == "A")
        // A persona that scoring did not assign was set by a person: kept, and the fit follows it.
        let byHand = scorer.newState(profile(persona: "per-ops"), lastAssigned: "per-cmo")
        #expect(byHand.personaID == "per-ops" && byHand.personaByHand && byHand.assignedPersona == "per-cmo")
        #expect(byHand.fitPoints == 30 && byHand.grade == "B")
        // The column still holding what scoring assigned last time is not a choice by hand.
        let auto = scorer.newState(profile(title: "Engineer", persona: "per-cmo"), lastAssigned: "per-cmo")
        #expect(auto.personaID == nil && !auto.personaByHand && auto.grade == "B")
        #expect(scorer.newState(ContactProfile(contact: [:]), lastAssigned: nil).grade == "D")
    }

    @Test("the stored form reads back to the same state, ledgers included, and refuses another model")
    func codecRoundTrip() throws {
        let scorer = Scorer(model: model, version: 7, personas: personas)
        var s = scorer.newState(profile(), lastAssigned: nil)
        for (i, h) in [0, 1, 2, 30, 5].enumerated() { scorer.add(touch("p\(i)", "page_view", hours: Int64(h), url: "https://x.example/pricing"), to: &s) }
        scorer.add(touch("f1", "form_submit", hours: 3), to: &s)
        let bytes = ScoreCodec.encode(s)
        let back = try #require(ScoreCodec.decode(bytes, model: model))
        // Persona reasons are not stored (matching gives them again); everything else is.
        var withoutReasons = s
        withoutReasons.personaReasons = []
        #expect(back == withoutReasons)
        #expect(bytes.count < 150, "\(bytes.count) bytes")
        #expect(back.engagement.value(at: t0.adding(milliseconds: 40 * day)) == s.engagement.value(at: t0.adding(milliseconds: 40 * day)))
        var fewer = model
        fewer.engagement = EngagementModel(rules: Array(model.engagement.rules.prefix(1)), halfLife: 7 * day)
        #expect(ScoreCodec.decode(bytes, model: fewer) == nil)
        #expect(ScoreCodec.decode(Array(bytes.dropLast()), model: model) == nil)
        #expect(ScoreCodec.decode([], model: model) == nil)
        // A contact no rule has matched yet has no slots; it reads back too.
        let fresh = scorer.newState(profile(), lastAssigned: nil)
        var freshStored = fresh
        freshStored.personaReasons = []
        #expect(ScoreCodec.decode(ScoreCodec.encode(fresh), model: model) == freshStored)
    }

    @Test("the MQL rule moves leads and subscribers; recycled ones only on new engagement; later stages never")
    func mqlMoves() {
        let scorer = Scorer(model: model, version: 2, personas: personas)
        var s = scorer.newState(profile(), lastAssigned: nil)
        scorer.add(touch("f1", "form_submit", hours: 0), to: &s)
        let at = t0
        #expect(scorer.mqlMove(stage: .lead, recycledAt: nil, state: s, at: at) == nil)  // 30 < 40
        scorer.add(touch("p1", "page_view", hours: 1, url: "/pricing"), to: &s)
        let now = t0.adding(milliseconds: 3_600_000)
        let move = scorer.mqlMove(stage: .lead, recycledAt: nil, state: s, at: now)
        #expect(move?.to == .mql && move?.from == .lead && move?.actor == .rule("mql") && move?.modelVersion == 2)
        #expect(move?.reason?.contains("grade A") == true)
        #expect(scorer.mqlMove(stage: nil, recycledAt: nil, state: s, at: now)?.to == .mql)
        #expect(scorer.mqlMove(stage: .subscriber, recycledAt: nil, state: s, at: now)?.to == .mql)
        for later: LifecycleStage in [.mql, .sal, .sql, .opportunity, .customer, .disqualified] {
            #expect(scorer.mqlMove(stage: later, recycledAt: nil, state: s, at: now) == nil)
        }
        #expect(scorer.mqlMove(stage: .recycled, recycledAt: now, state: s, at: now) == nil)
        #expect(scorer.mqlMove(stage: .recycled, recycledAt: t0, state: s, at: now)?.from == .recycled)
        // Two weeks later the points have decayed below the rule.
        #expect(scorer.mqlMove(stage: .lead, recycledAt: nil, state: s, at: now.adding(milliseconds: 14 * day)) == nil)
        // Negative points count.
        scorer.add(touch("u1", "unsubscribe", hours: 2), to: &s)
        #expect(scorer.mqlMove(stage: .lead, recycledAt: nil, state: s, at: now.adding(milliseconds: 3_600_000)) == nil)
    }

    @Test("the AUC equals counting every positive–negative pair, ties half")
    func aucByPairs() {
        var rng = SeededRandom(seed: 9)
        for _ in 0..<20 {
            let n = rng.int(2...60)
            let scores = (0..<n).map { _ in Double(rng.int(0...8)) }
            var labels = (0..<n).map { _ in rng.chance(0.3) }
            labels[0] = true
            labels[1] = false
            var wins = 0.0
            var pairs = 0.0
            for i in 0..<n where labels[i] {
                for j in 0..<n where !labels[j] {
                    pairs += 1
                    wins += scores[i] > scores[j] ? 1 : (scores[i] == scores[j] ? 0.5 : 0)
                }
            }
            let auc = Backtest.rocAUC(scores, labels)!
            #expect(abs(auc - wins / pairs) < 1e-12)
        }
        #expect(Backtest.rocAUC([1, 2], [true, true]) == nil)
        #expect(Backtest.rocAUC([1, 2, 3, 4], [false, false, true, true]) == 1)
    }

    @Test("a backtest labels by horizon, censors the unknown, scores the peak before the target, counts MQLs per week")
    func backtestByHand() throws {
        let scorer = Scorer(model: model, version: 1, personas: personas)
        let h: Int64 = 30 * day
        let from = t0
        let to = t0.adding(milliseconds: 70 * day)
        func c(_ id: String, start: Int64, touches: [TouchFacts], target: Int64?) -> BacktestContact {
            BacktestContact(
                id: id,
                profile: profile(),
                start: t0.adding(milliseconds: start * day),
                touches: touches,
                target: target.map { t0.adding(milliseconds: $0 * day) }
            )
        }
        let contacts = [
            // Converts on day 10 after a demo request on day 1: positive, peak 50 + 30.
            c("pos", start: 0, touches: [touch("a", "form_submit", hours: 24), touch("late", "form_submit", hours: 24 * 12)], target: 10),
            // Never converts, observed for the whole horizon: negative, peak = fit 50.
            c("neg", start: 0, touches: [], target: nil),
            // Converts after the horizon: negative.
            c("slow", start: 1, touches: [touch("b", "page_view", hours: 48, url: "/pricing")], target: 40),
            // Created 50 days in: the horizon runs past `to` → censored.
            c("new", start: 50, touches: [], target: nil),
            // Converted when created: nothing to predict.
            c("born", start: 5, touches: [], target: 5),
            // Outside the period.
            c("old", start: -10, touches: [], target: nil),
        ]
        let r = Backtest.run(contacts, scorer: scorer, options: BacktestOptions(from: from, to: to, horizon: h, weeklyCapacity: 1, thresholds: [60, 70, 90]))
        #expect(r.contacts == 4 && r.labelled == 3 && r.positives == 1 && r.censored == 1 && r.convertedAtStart == 1)
        let scores = Dictionary(uniqueKeysWithValues: r.scores.map { ($0.contactID, $0) })
        #expect(abs(scores["pos"]!.score - 80) < 1e-9 && scores["pos"]!.label)
        #expect(scores["neg"]!.score == 50 && !scores["neg"]!.label)
        #expect(abs(scores["slow"]!.score - 65) < 1e-9 && !scores["slow"]!.label)
        #expect(r.auc == 1)
        let t60 = try #require(r.thresholds.first { $0.threshold == 60 })
        #expect(t60.mqls == 2 && t60.truePositives == 1 && t60.precision == 0.5 && t60.recall == 1 && t60.maxMQLsPerWeek == 2)
        let t70 = try #require(r.thresholds.first { $0.threshold == 70 })
        #expect(t70.mqls == 1 && t70.precision == 1 && t70.recall == 1)
        #expect(r.thresholds.first { $0.threshold == 90 }?.mqls == 0)
        // Capacity 1/week over 10 weeks: every threshold fits; the best recall with the best precision wins.
        #expect(r.recommended?.threshold == 70)
        // The MQL rule (engagement ≥ 40, grade ≥ B) never held: 30 and 15 points are below 40.
        #expect(r.rule.mqls == 0)
        #expect(r.lift.count == 3 && r.lift[0].positives == 1)
    }

    @Test("top-level string properties are read, escapes resolved, other values skipped")
    func properties() {
        #expect(
            JSONObjectCheck.topLevelStrings(#"{"url":"/pricing","n":2,"o":{"url":"x"},"a":[1,"b"],"e":"a\"b\u00e9\n"}"#) == ["url": "/pricing", "e": "a\"bé\n"]
        )
        #expect(JSONObjectCheck.topLevelStrings("{}") == [:])
        #expect(JSONObjectCheck.topLevelStrings("[1]") == nil)
        #expect(JSONObjectCheck.topLevelStrings(#"{"a":}"#) == nil)
    }
}
