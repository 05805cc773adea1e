import Foundation
import Testing

@testable import SmarketingConnectors
@testable import SmarketingCore

@Suite("The scoring model file")
struct ScoringModelFileTests {
    static let example: String = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("examples/scoring-model.yaml")
        return try! String(contentsOf: url, encoding: .utf8)
    }()

    @Test("the shipped example reads into the model it describes")
    func example() throws {
        let model = try ScoringModelFile.read(Self.example).get()
        #expect(model.fit.rules.count == 7)
        #expect(model.engagement.rules.count == 8)
        #expect(model.engagement.halfLife == 7 * 86_400_000)
        let decision = try #require(model.engagement.rules.first { $0.id == "decision-content" })
        #expect(decision.halfLife == Int64(30) * 86_400_000)
        #expect(model.engagement.rules.first { $0.id == "pricing-page" }?.caps == PointCaps(perDay: 15, perWeek: 30))
        #expect(model.fit.bands.grade(for: 45) == "B" && model.fit.bands.lowest == "D")
        let facts = MQLRule.Facts(engagement: 55, fit: 70, grade: "A", persona: nil, gradeOrder: ["A", "B", "C", "D"])
        #expect(model.mql.holds(facts))
        let attributes = ["account.industry": "software", "account.employees": "450", "contact.title": "CMO", "contact.account_id": "a"]
        let fit = model.fit.evaluate { attributes[$0] }
        #expect(fit.points == 65 && fit.grade == "A")
    }

    func problems(_ yaml: String) -> [String] {
        switch ScoringModelFile.read(yaml) {
        case .success: return []
        case .failure(let p): return p.problems.map(\.description)
        }
    }

    static let base = """
        half_life: 7d
        grades: {A: 60, B: 30, D: rest}
        fit:
          - id: size
            attribute: account.employees
            at_least: 200
            points: 25
        engagement:
          - id: pricing
            types: [page_view]
            url: "*/pricing*"
            points: 15
        mql: engagement >= 50 and grade in [A, B]
        """

    @Test("a valid minimal model has no problems")
    func minimal() { #expect(problems(Self.base).isEmpty) }

    @Test(
        "every problem names its line and column",
        arguments: [
            ("attribute: account.employees", "attribute: account.headcount", "5:16: fit rule \"size\": unknown attribute \"account.headcount\""),
            ("types: [page_view]", "types: [page_visit]", "10:12: engagement rule \"pricing\": unknown touch type \"page_visit\""),
            ("points: 15", "points: lots", "12:13: points must be a number"),
            ("half_life: 7d", "half_life: soon", "1:12: half_life must be a duration"),
            ("mql: engagement >= 50 and grade in [A, B]", "mql: engagement >= 50 and grade in [A, X]", "13:6: mql: grade \"X\" is not one of the grades"),
            ("mql: engagement >= 50 and grade in [A, B]", "mql: engagment >= 50", "13:6: mql: unknown name \"engagment\""),
            ("mql: engagement >= 50 and grade in [A, B]", "mql: engagement >= lots", "13:20: mql: engagement compares with a number"),
            ("    at_least: 200", "    at_least: 200\n    matches: \"x\"", "4:5: fit rule \"size\" needs exactly one condition"),
            ("    points: 25", "    points: 25\n    weight: 2", "8:5: unknown key \"weight\" in a fit rule"),
            ("half_life: 7d", "half_life: 7d\nhalf_life: 3d", "keys appear twice"),
            ("grades: {A: 60, B: 30, D: rest}", "grades: {A: 60, B: [30}", "not valid YAML"),
        ]
    )
    func located(original: String, replacement: String, expected: String) {
        let yaml = Self.base.replacingOccurrences(of: original, with: replacement)
        let found = problems(yaml)
        #expect(found.contains { $0.contains(expected) }, "\(found)")
    }

    @Test("missing parts and duplicate ids are problems, all reported together")
    func missing() {
        let found = problems(
            "half_life: 7d\nfit:\n  - id: a\n    attribute: contact.title\n    matches: \"*cmo*\"\n    points: 5\n  - id: a\n    attribute: contact.title\n    matches: \"*cto*\"\n    points: 5\n"
        )
        #expect(found.contains { $0.contains("needs \"grades\"") })
        #expect(found.contains { $0.contains("needs \"engagement\"") })
        #expect(found.contains { $0.contains("needs \"mql\"") })
        #expect(found.contains { $0.contains("rule id \"a\" is used twice") })
        #expect(problems("") == ["1:1: the file is empty"])
    }
}

@Suite("Demo scoring model")
struct DemoModelTests {
    @Test("the model built into the binary is examples/scoring-model.yaml")
    func sameAsExample() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("examples/scoring-model.yaml").path
        #expect(try String(contentsOfFile: path, encoding: .utf8) == DemoWorkspace.scoringModelText)
    }
}
