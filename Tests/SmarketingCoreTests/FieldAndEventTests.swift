import Foundation
import Testing

@testable import SmarketingCore

@Suite("Fields, events, access")
struct FieldAndEventTests {
    @Test("each field type reads its text and names what is wrong")
    func fieldTypes() throws {
        #expect(try FieldType.integer.parse(" 42 ").get() == .integer(42))
        #expect(try FieldType.number.parse("1234.5").get() == .number(1234.5))
        #expect(try FieldType.bool.parse("TRUE").get() == .bool(true))
        #expect(try FieldType.date.parse("2024-02-29").get() == .date(LocalDate(year: 2024, month: 2, day: 29)))
        #expect(try FieldType.month.parse("2024-02").get() == .text("2024-02"))
        #expect(try FieldType.domain.parse("WWW.Acme.example").get() == .text("acme.example"))
        #expect(try FieldType.email.parse("  a@b.de ").get() == .text("a@b.de"))
        #expect(try FieldType.jsonObject.parse("{\"a\":[1,2]}").get() == .json("{\"a\":[1,2]}"))
        #expect(try FieldType.text.parse("").get() == .null)
        #expect(try FieldType.oneOf(["x", "y"]).parse("y").get() == .text("y"))
        for (type, text) in [
            (FieldType.integer, "4.2"), (.number, "abc"), (.number, "1e5"), (.bool, "maybe"), (.date, "2024-13-01"),
            (.month, "2024-13"), (.jsonObject, "[1]"), (.jsonObject, "{oops"), (.oneOf(["x"]), "z"), (.email, "nope"),
            (.timestamp, "2024-01-01T00:00:00"),
        ] {
            #expect(throws: FieldProblem.self, "\(type) \(text)") { try type.parse(text).get() }
        }
        #expect(FieldValue.number(12.0).csvText == "12")
        #expect(FieldValue.number(0.1).csvText == "0.1")
    }

    func decode(_ json: String) throws -> EventPayload { try JSONDecoder().decode(EventPayload.self, from: Data(json.utf8)) }

    @Test("events decode field by field and explain rejections")
    func events() throws {
        let ok = try decode(
            #"{"id":"e1","type":"page_view","occurred_at":"2026-01-01T10:00:00+01:00","contact_id":"ct-1","properties":{"url":"/pricing","n":1}}"#
        ).validate().get()
        #expect(ok.contact == .id("ct-1"))
        #expect(ok.occurredAt == (try Timestamp.parse("2026-01-01T09:00:00Z").get()))
        #expect(ok.properties == #"{"n":1,"url":"/pricing"}"#)
        let byEmail = try decode(
            #"{"id":"e2","type":"form_submit","occurred_at":"2026-01-01T10:00:00Z","email":" Anna@Acme.example ","first_name":"Anna","company":"Acme"}"#
        ).validate().get()
        #expect(byEmail.contact == .email(key: "anna@acme.example", address: "Anna@Acme.example", details: ContactDetails(firstName: "Anna", company: "Acme")))
        let cases: [(String, String)] = [
            (#"{"id":"e","type":"x","occurred_at":"2026-01-01T10:00:00Z","contact_id":"c","colour":"red"}"#, "unknown field \"colour\""),
            (#"{"type":"x","occurred_at":"2026-01-01T10:00:00Z","contact_id":"c"}"#, "missing required field \"id\""),
            (#"{"id":"e","type":"x","occurred_at":"2026-01-01T10:00:00","contact_id":"c"}"#, "has no UTC offset"),
            (#"{"id":"e","type":"x","occurred_at":"2026-01-01T10:00:00Z"}"#, "needs \"contact_id\" or \"email\""),
            (#"{"id":"e","type":"x","occurred_at":"2026-01-01T10:00:00Z","email":"not-an-email"}"#, "not an email"),
            (#"{"id":5,"type":"x","occurred_at":"2026-01-01T10:00:00Z","contact_id":"c"}"#, "must be a string"),
            (#"{"id":"e","type":"x","occurred_at":"2026-01-01T10:00:00Z","contact_id":"c","properties":[1]}"#, "must be a JSON object"),
        ]
        for (json, expected) in cases {
            let result = try decode(json).validate()
            guard case .failure(let rejection) = result else {
                Issue.record("accepted \(json)")
                continue
            }
            #expect(rejection.reason.contains(expected), "\(rejection.reason)")
        }
    }

    @Test("roles: viewer reads only, admin administers, teams write their records")
    func access() {
        for r in Resource.allCases {
            #expect(AccessPolicy.mayRead(.viewer, r))
            #expect(!AccessPolicy.mayWrite(.viewer, r))
            #expect(AccessPolicy.mayWrite(.admin, r))
        }
        #expect(AccessPolicy.mayWrite(.marketing, .campaigns))
        #expect(!AccessPolicy.mayWrite(.marketing, .opportunities))
        #expect(AccessPolicy.mayWrite(.sales, .opportunities))
        #expect(!AccessPolicy.mayWrite(.sales, .costs))
        #expect(!AccessPolicy.mayWrite(.sales, .users) && !AccessPolicy.mayWrite(.marketing, .users))
        #expect(AccessPolicy.mayAdminister(.admin) && !AccessPolicy.mayAdminister(.marketing))
        #expect(!AccessPolicy.mayIngest(.viewer) && AccessPolicy.mayIngest(.sales))
    }

    @Test("the schema covers every bundle file with a key and known references")
    func schema() {
        for r in Resource.allCases {
            let s = r.schema
            #expect(!s.fields.isEmpty)
            for k in s.key { #expect(s.index[k] != nil, "\(r) key \(k)") }
            for f in s.fields { if let ref = f.references { #expect(Resource.importOrder.firstIndex(of: ref)! <= Resource.importOrder.firstIndex(of: r)!) } }
        }
        #expect(Resource.importOrder.count == Resource.allCases.count)
        let costs = Resource.costs.schema
        var v = [FieldValue](repeating: .null, count: costs.fields.count)
        v[0] = .date(LocalDate(year: 2024, month: 1, day: 2))
        v[1] = .text("marketing")
        v[2] = .number(5)
        #expect(costs.recordID(v) == "2024-01-02|marketing|")
    }

    @Test("the seeded generator repeats itself")
    func seeded() {
        var a = SeededRandom(seed: 7)
        var b = SeededRandom(seed: 7)
        var c = SeededRandom(seed: 8)
        let xs = (0..<100).map { _ in a.next() }
        #expect(xs == (0..<100).map { _ in b.next() })
        #expect(xs != (0..<100).map { _ in c.next() })
        var r = SeededRandom(seed: 1)
        let mean = (0..<20_000).map { _ in r.unit() }.reduce(0, +) / 20_000
        #expect(abs(mean - 0.5) < 0.01)
    }
}

@Suite("JSON object check")
struct JSONObjectCheckTests {
    @Test(
        "accepts JSON objects and only them",
        arguments: [
            ("{}", true), (" { \"a\" : [1, -2.5e3, true, false, null, {\"b\": \"\\u00e9\\n\"}] } ", true), ("{\"a\":\"x\"}", true),
            ("[]", false), ("\"s\"", false), ("{", false), ("{\"a\":}", false), ("{\"a\":1,}", false), ("{a:1}", false),
            ("{\"a\":01}", false), ("{\"a\":\"\u{01}\"}", false), ("{\"a\":tru}", false), ("{}{}", false), ("{\"a\":\"\\x\"}", false),
            ("{\"a\":1.}", false), ("", false),
        ]
    )
    func check(text: String, valid: Bool) {
        #expect(JSONObjectCheck.isObject(text) == valid)
    }
}
