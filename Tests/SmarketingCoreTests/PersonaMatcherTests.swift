import Foundation
import Testing

@testable import SmarketingCore

@Suite("Persona matching")
struct PersonaMatcherTests {
    func definition(_ id: String, _ json: String) -> PersonaDefinition {
        let v = try! JSONDecoder().decode(JSONValue.self, from: Data(json.utf8))
        let (d, problems) = PersonaDefinition.from(id: id, rules: v)
        #expect(problems.isEmpty, "\(problems)")
        return d
    }

    var personas: [PersonaDefinition] {
        [
            definition("per-cmo", #"{"titles":["CMO","VP Marketing","Head of Marketing"],"seniority":"executive","min_employees":50}"#),
            definition("per-cmo-enterprise", #"{"titles":["CMO","VP Marketing"],"min_employees":1000,"industries":["Software"]}"#),
            definition("per-it", #"{"titles":["CIO","IT Director","head of it"]}"#),
            definition("per-dach-ops", #"{"titles":["*operations*"],"countries":["DE","AT","CH"]}"#),
        ]
    }

    @Test("the most specific persona whose every rule holds wins, with the reasons")
    func best() throws {
        let small = try #require(PersonaMatcher.best(personas, PersonaFacts(title: "VP Marketing EMEA", industry: "Software", country: "US", employees: 300)))
        #expect(small.personaID == "per-cmo")
        #expect(small.reasons == ["title \"VP Marketing EMEA\" matches \"VP Marketing\"", "300 employees ≥ 50"])
        let big = try #require(PersonaMatcher.best(personas, PersonaFacts(title: "CMO", industry: "software", country: "US", employees: 5000)))
        #expect(big.personaID == "per-cmo-enterprise" && big.reasons.count == 3)
        #expect(PersonaMatcher.best(personas, PersonaFacts(title: "Head of IT", industry: nil, country: nil, employees: nil))?.personaID == "per-it")
        #expect(
            PersonaMatcher.best(personas, PersonaFacts(title: "Marketing Operations Manager", industry: nil, country: "AT", employees: nil))?.personaID
                == "per-dach-ops"
        )
        #expect(PersonaMatcher.best(personas, PersonaFacts(title: "Marketing Operations Manager", industry: nil, country: "US", employees: nil)) == nil)
        #expect(PersonaMatcher.best(personas, PersonaFacts(title: "CMO", industry: nil, country: nil, employees: 10)) == nil)
        #expect(PersonaMatcher.best(personas, PersonaFacts(title: nil, industry: nil, country: nil, employees: nil)) == nil)
    }

    @Test("unknown rule keys are reported, descriptive keys are not")
    func problems() {
        let v = try! JSONDecoder().decode(JSONValue.self, from: Data(#"{"titles":["x"],"headcount":5,"pains":"slow reports"}"#.utf8))
        #expect(PersonaDefinition.from(id: "p", rules: v).problems == ["unknown persona rule \"headcount\""])
    }
}
