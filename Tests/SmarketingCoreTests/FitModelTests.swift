import Testing

@testable import SmarketingCore

@Suite("Fit rules and grades")
struct FitModelTests {
    let model = FitModel(
        rules: [
            FitRule(id: "industry", attribute: "account.industry", condition: .oneOf(["Software", "Financial Services"]), points: 20),
            FitRule(id: "size", attribute: "account.employees", condition: .atLeast(200), points: 25),
            FitRule(id: "country", attribute: "contact.country", condition: .oneOf(["DE", "AT", "CH"]), points: 10),
            FitRule(id: "senior", attribute: "contact.title", condition: .matches("*head of*"), points: 15),
            FitRule(id: "vp", attribute: "contact.title", condition: .matches("vp *"), points: 15),
            FitRule(id: "persona", attribute: "contact.persona_id", condition: .oneOf(["per-cmo"]), points: 10),
            FitRule(id: "no-company", attribute: "contact.account_id", condition: .isEmpty, points: -30),
        ],
        bands: GradeBands([("A", 60), ("B", 40), ("C", 20)])
    )

    @Test("points add up per matching rule and the bands give the grade")
    func grades() {
        let a = model.evaluate(
            [
                "account.industry": "software", "account.employees": "450", "contact.country": "DE", "contact.title": "Head of Marketing",
                "contact.account_id": "acc-1",
            ].get
        )
        #expect(a.points == 70 && a.grade == "A")
        #expect(a.contributions.filter(\.matched).map(\.ruleID) == ["industry", "size", "country", "senior"])
        #expect(a.contributions.first { $0.ruleID == "vp" }?.matched == false)
        let b = model.evaluate(["account.employees": "200", "contact.title": "VP Sales", "contact.account_id": "acc-1"].get)
        #expect(b.points == 40 && b.grade == "B")
        let d = model.evaluate(["contact.title": "Student"].get)
        #expect(d.points == -30 && d.grade == "D")
        #expect(d.contributions.first { $0.ruleID == "no-company" }?.points == -30)
        #expect(d.contributions.first { $0.ruleID == "size" }?.value == nil)
    }

    @Test(
        "conditions",
        arguments: [
            (AttributeCondition.atLeast(200), "199", false), (.atLeast(200), "200", true), (.atLeast(200), "lots", false), (.atLeast(1), nil, false),
            (.atMost(50), "50", true), (.atMost(50), "51", false), (.oneOf(["A", "b"]), "B", true), (.oneOf(["A"]), nil, false),
            (.matches("*chief*"), "Chief Revenue Officer", true), (.matches("cto"), "CTO", true), (.matches("cto"), "CTO Office", false),
            (.matches("head of*"), "Head of IT", true), (.matches("*officer"), "Officer of the Day", false), (.matches("*"), "", true),
            (.isEmpty, nil, true), (.isEmpty, "", true), (.isEmpty, "x", false),
        ] as [(AttributeCondition, String?, Bool)]
    )
    func conditions(condition: AttributeCondition, value: String?, expected: Bool) {
        #expect(condition.holds(for: value) == expected)
    }

    @Test("bands are sorted best first and the lowest grade catches the rest")
    func bands() {
        let bands = GradeBands([("C", 10), ("A", 50), ("B", 30)], lowest: "D")
        #expect([60, 50, 49, 30, 10, 9.9, -5].map(bands.grade) == ["A", "A", "B", "B", "C", "D", "D"])
    }
}

extension Dictionary where Key == String, Value == String {
    /// The dictionary as an attribute lookup.
    var get: (String) -> String? { { self[$0] } }
}
