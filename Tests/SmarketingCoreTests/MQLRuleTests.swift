import Testing

@testable import SmarketingCore

@Suite("The MQL rule")
struct MQLRuleTests {
    func facts(_ engagement: Double, _ grade: String, fit: Double = 0, persona: String? = nil) -> MQLRule.Facts {
        MQLRule.Facts(engagement: engagement, fit: fit, grade: grade, persona: persona, gradeOrder: ["A", "B", "C", "D"])
    }

    func rule(_ text: String) throws -> MQLRule { try MQLRule.parse(text).get() }

    @Test("the example rule")
    func example() throws {
        let r = try rule("engagement >= 50 and grade in [A, B]")
        #expect(r.holds(facts(50, "A")))
        #expect(r.holds(facts(80, "B")))
        #expect(!r.holds(facts(49.9, "A")))
        #expect(!r.holds(facts(90, "C")))
    }

    @Test("grades compare by rank; or, not and parentheses")
    func operators() throws {
        #expect(try rule("grade >= B").holds(facts(0, "A")))
        #expect(try !rule("grade >= B").holds(facts(0, "C")))
        #expect(try rule("grade < B").holds(facts(0, "D")))
        #expect(try rule("grade == C").holds(facts(0, "C")))
        #expect(try rule("(engagement > 80 or fit >= 60) and not persona == per-student").holds(facts(10, "B", fit: 60, persona: "per-cmo")))
        #expect(try !rule("(engagement > 80 or fit >= 60) and not persona == per-student").holds(facts(90, "B", persona: "per-student")))
        #expect(try rule("persona in ['per-cmo', \"per-ops\"]").holds(facts(0, "D", persona: "per-ops")))
        #expect(try rule("engagement != 0").holds(facts(-1, "D")))
        #expect(try rule("engagement>=10 and grade<=C").holds(facts(10, "D")))
    }

    @Test(
        "errors name the column",
        arguments: [
            ("engagment >= 50", 1, "unknown name"),
            ("engagement >= lots", 15, "compares with a number"),
            ("engagement => 5", 12, "expected a comparison"),
            ("grade in [A, B", 15, "expected \"]\""),
            ("engagement >= 5 and", 20, "expected engagement"),
            ("engagement in [1]", 1, "\"in\" works on grade"),
            ("(fit > 1", 9, "expected \")\""),
            ("fit > 1 )", 9, "unexpected"),
            ("persona > x", 9, "persona compares"),
            ("engagement>=10and grade<=C", 13, "compares with a number"),
        ]
    )
    func errors(text: String, column: Int, message: String) {
        guard case .failure(let e) = MQLRule.parse(text) else {
            Issue.record("parsed \(text)")
            return
        }
        #expect(e.column == column, "\(text): \(e)")
        #expect(e.message.contains(message), "\(text): \(e)")
    }
}

@Suite("MQL rule evaluation order")
struct MQLRuleOrderTests {
    @Test("cheap conditions first and a lazily computed engagement give the same answer on random facts")
    func cheapFirstIsEquivalent() throws {
        let rules = [
            "engagement >= 50 and grade in [A, B]", "grade >= B and engagement > 20 or fit >= 70", "not (engagement < 10) and persona == per-cmo",
            "(engagement >= 30 or grade == A) and not grade == D", "engagement < 5 or engagement > 90",
        ]
        var rng = SeededRandom(seed: 3)
        for text in rules {
            let rule = try MQLRule.parse(text).get()
            let reordered = rule.cheapFirst
            for _ in 0..<300 {
                let f = MQLRule.Facts(
                    engagement: Double(rng.int(0...100)),
                    fit: Double(rng.int(0...100)),
                    grade: rng.element(["A", "B", "C", "D"]),
                    persona: rng.element(["per-cmo", "per-ops", nil]),
                    gradeOrder: ["A", "B", "C", "D"]
                )
                var asked = 0
                let lazy = reordered.holds(f) {
                    asked += 1
                    return f.engagement
                }
                #expect(lazy == rule.holds(f), "\(text) with \(f.engagement) \(f.grade)")
                if !rule.usesEngagement { #expect(asked == 0) }
            }
        }
        // With the grade failing first, the engagement is never computed.
        var asked = 0
        let f = MQLRule.Facts(engagement: 99, fit: 0, grade: "D", persona: nil, gradeOrder: ["A", "B", "C", "D"])
        #expect(
            !(try MQLRule.parse("engagement >= 50 and grade in [A, B]").get().cheapFirst.holds(f) {
                asked += 1
                return 99
            })
        )
        #expect(asked == 0)
    }
}
