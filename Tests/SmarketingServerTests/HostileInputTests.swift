import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SmarketingCore
import SmarketingServer
import SmarketingStore
import Testing

/// A corpus of hostile API input: each gets a clear problem (never a crash, never a 5xx) and
/// nothing is written.
@Suite("Hostile input over HTTP")
struct HostileInputTests {
    @Test("1e308 and other numbers outside the stored ranges answer 422 naming the field and range; the server keeps serving")
    func extremeNumbers() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await f.app().test(.live) { client in
            let admin = f.tokens[.admin]
            // The request that stopped the server before: Money.cents trapped in the KPI refresh.
            let cost = try await client.call(.post, "/api/v1/costs", token: admin, body: #"{"amount": 1e308, "category": "marketing", "date": "2026-12-01"}"#)
            #expect(cost.status == .unprocessableContent && cost.isProblem)
            let detail = cost.json["detail"] as? String ?? ""
            #expect(detail.contains("amount") && detail.contains("1000000000000"), "\(detail)")
            #expect(try await client.call(.post, "/api/v1/accounts", token: admin, body: #"{"id":"a1","name":"Acme"}"#).status == .created)
            let won = #"{"id":"o1","account_id":"a1","created_at":"2026-01-01T00:00:00Z","closed_at":"2026-02-01T00:00:00Z","is_won":true,"amount":1e308}"#
            let opp = try await client.call(.post, "/api/v1/opportunities", token: admin, body: won)
            #expect(opp.status == .unprocessableContent && (opp.json["detail"] as? String)?.contains("amount") == true)
            let cases: [(String, String, String)] = [
                ("/api/v1/costs", #"{"amount": -5, "category": "marketing", "date": "2026-12-01"}"#, "amount"),
                ("/api/v1/costs", #"{"amount": "Infinity", "category": "marketing", "date": "2026-12-01"}"#, "amount"),
                ("/api/v1/costs", #"{"amount": "NaN", "category": "marketing", "date": "2026-12-01"}"#, "amount"),
                ("/api/v1/users", #"{"id":"u1","email":"u1@us.example","capacity":-1}"#, "capacity"),
                ("/api/v1/users", #"{"id":"u1","email":"u1@us.example","capacity":1e10}"#, "capacity"),
                ("/api/v1/users", #"{"id":"u1","email":"u1@us.example","capacity":9.5}"#, "capacity"),
                ("/api/v1/accounts", #"{"id":"a2","name":"B","employees":9223372036854775808}"#, "employees"),
                ("/api/v1/campaigns", #"{"id":"c1","name":"C","channel":"email","budget":1e13}"#, "budget"),
                ("/api/v1/targets", #"{"period":"2026-01","metric":"revenue","value":1e300}"#, "value"),
            ]
            for (path, body, field) in cases {
                let r = try await client.call(.post, path, token: admin, body: body)
                #expect(r.status == .unprocessableContent && r.isProblem, "\(body) → \(r.status)")
                #expect((r.json["detail"] as? String)?.contains(field) == true, "\(body): \(r.text)")
            }
            #expect(try await client.call(.get, "/api/v1/kpis", token: admin).status == .ok)
            #expect(try await client.call(.get, "/api/v1/costs", token: admin).data.isEmpty)
            #expect(try await client.call(.get, "/api/v1/opportunities", token: admin).data.isEmpty)
        }
    }

    @Test("dates outside 1900–2199, impossible days, huge and empty strings, deep JSON: clear errors, nothing stored")
    func datesStringsAndShapes() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await f.app(maxBodyBytes: 4 << 20).test(.live) { client in
            let admin = f.tokens[.admin]
            let long = String(repeating: "x", count: 1_001)
            let megabyte = String(repeating: "y", count: 1 << 20)
            let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
            let cases: [(String, String, HTTPResponse.Status)] = [
                (#"{"id":"k1","email":"k1@us.example","created_at":"0001-01-01T00:00:00Z"}"#, "created_at", .unprocessableContent),
                (#"{"id":"k1","email":"k1@us.example","created_at":"9999-12-31T23:59:59Z"}"#, "created_at", .unprocessableContent),
                (#"{"id":"k1","email":"k1@us.example","created_at":"2200-01-01T00:00:00Z"}"#, "created_at", .unprocessableContent),
                (#"{"id":"k1","email":"k1@us.example","created_at":"2026-02-30T00:00:00Z"}"#, "created_at", .unprocessableContent),
                (#"{"id":"k1","email":"k1@us.example","created_at":"2026-01-01T00:00:00"}"#, "created_at", .unprocessableContent),
                (#"{"id":"","email":"k1@us.example","created_at":"2026-01-01T00:00:00Z"}"#, "id", .unprocessableContent),
                (#"{"id":"k1","email":"not-an-email","created_at":"2026-01-01T00:00:00Z"}"#, "email", .unprocessableContent),
                (#"{"id":"k1","email":"k1@us.example","created_at":"2026-01-01T00:00:00Z","title":"\#(long)"}"#, "title", .unprocessableContent),
                (#"{"id":"k1","email":"k1@us.example","created_at":"2026-01-01T00:00:00Z","title":"\#(megabyte)"}"#, "title", .unprocessableContent),
                (#"{"id":"k1","email":"k1@us.example","created_at":"2026-01-01T00:00:00Z","nope":1}"#, "nope", .unprocessableContent),
                (#"{"id":"k1","email":"k1@us.example","created_at":"2026-01-01T00:00:00Z""#, "JSON", .badRequest),
                (deep, "JSON", .badRequest),
                ("[1,2,3]", "object", .unprocessableContent),
            ]
            for (body, mention, status) in cases {
                let r = try await client.call(.post, "/api/v1/contacts", token: admin, body: body)
                #expect(r.status == status && r.isProblem, "\(body.prefix(80)) → \(r.status) \(r.text.prefix(200))")
                #expect((r.json["detail"] as? String)?.contains(mention) == true, "\(body.prefix(80)): \(r.text.prefix(300))")
            }
            // Odd Unicode is data, kept exactly: right-to-left override, zero-width joiner, emoji.
            let odd = "\u{202E}evil\u{200D}👩‍💻 Ünïcödé"
            let oddBody = #"{"id":"k2","email":"k2@us.example","created_at":"2026-01-01T00:00:00Z","first_name":"\#(odd)"}"#
            #expect(try await client.call(.post, "/api/v1/contacts", token: admin, body: oddBody).status == .created)
            #expect(try await client.call(.get, "/api/v1/contacts/k2", token: admin).json["first_name"] as? String == odd)
            #expect(try await client.call(.get, "/api/v1/contacts", token: admin).data.count == 1)
            // An id of any text: the Location header is ASCII and leads back to the record.
            let oddID = "ü/x|y 😀"
            let created = try await client.call(.post, "/api/v1/personas", token: admin, body: #"{"id":"\#(oddID)","name":"Odd"}"#)
            #expect(created.status == .created)
            let location = try #require(created.headers[.location])
            #expect(location.unicodeScalars.allSatisfy { $0.isASCII }, "\(location)")
            #expect(try await client.call(.get, location, token: admin).json["id"] as? String == oddID)
            // A crafted cursor with a number no Int64 holds (its conversion trapped before).
            for crafted in [#"[1e300,"x"]"#, #"[-1e300,"x"]"#, #"[{"a":1},"x"]"#, #"[null,null]"#] {
                let cursor = Data(crafted.utf8).base64EncodedString().addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
                for sort in ["created_at", "-id", "email"] {
                    let r = try await client.call(.get, "/api/v1/contacts?sort=\(sort)&cursor=\(cursor)", token: admin)
                    #expect(r.status == .ok || r.status == .notFound, "\(crafted) sorted by \(sort) → \(r.status)")
                }
            }
            // Query parameters: out of range, wrong form, NaN.
            for uri in [
                "/api/v1/contacts?limit=0", "/api/v1/contacts?limit=99999999999999999999", "/api/v1/contacts?created_from=9999-01-01T00:00:00Z",
                "/api/v1/attribution?lookback_days=100000000000000", "/api/v1/attribution?half_life_days=NaN", "/api/v1/attribution?half_life_days=1e308",
                "/api/v1/funnel/leaks?confidence=Infinity", "/api/v1/kpis?from=0001-01-01", "/api/v1/handovers/99999999999999999999999",
                "/api/v1/audit?before=-1", "/api/v1/commitments?month=2026-13",
            ] {
                let r = try await client.call(.get, uri, token: admin)
                #expect(r.status == .unprocessableContent && r.isProblem, "\(uri) → \(r.status)")
            }
        }
    }

    @Test("events as JSON, array and NDJSON: hostile bodies answer 400/422 with the position, and a failed batch stores nothing")
    func events() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await f.app().test(.live) { client in
            let sales = f.tokens[.sales]
            let good = #"{"id":"e1","type":"page_view","occurred_at":"2026-01-01T00:00:00Z","email":"x@us.example"}"#
            let cases: [(String, String, HTTPResponse.Status)] = [
                (#"{"id":"e1","type":"page_view","occurred_at":"1066-10-14T09:00:00Z","email":"x@us.example"}"#, "application/json", .unprocessableContent),
                (#"{"id":"e1","type":"page_view","occurred_at":"2026-01-01T00:00:00Z"}"#, "application/json", .unprocessableContent),
                ("[" + good + "," + #"{"id":"e2","type":"page_view","occurred_at":"2026-01-01T00:00:00Z","email":"nope"}"# + "]", "application/json", .unprocessableContent),
                ("[]", "application/json", .unprocessableContent),
                (String(good.dropLast(5)), "application/json", .badRequest),
                (good + "\n" + #"{"id":"e2","type":"#, "application/x-ndjson", .unprocessableContent),
                (good + "\n" + #"{"id":"e2","type":"x","occurred_at":"2026-01-01T00:00:00Z","email":"y@us.example","properties":"s"}"#, "application/x-ndjson", .unprocessableContent),
                (good, "text/csv", .unsupportedMediaType),
            ]
            for (body, type, status) in cases {
                let r = try await client.call(.post, "/api/v1/events", token: sales, body: body, contentType: type)
                #expect(r.status == status && r.isProblem, "\(body.prefix(100)) as \(type) → \(r.status) \(r.text.prefix(200))")
            }
            // A truncated NDJSON line is reported with its line number.
            let truncated = try await client.call(.post, "/api/v1/events", token: sales, body: good + "\n" + #"{"id":"e2","type":"#, contentType: "application/x-ndjson")
            #expect((truncated.json["detail"] as? String)?.contains("line 2") == true, "\(truncated.text)")
            // Latin-1 bytes are not UTF-8 JSON.
            var headers: HTTPFields = [.contentType: "application/json"]
            headers[.authorization] = "Bearer \(sales ?? "")"
            var latin1 = ByteBuffer(string: #"{"id":"e9","type":"page_view","occurred_at":"2026-01-01T00:00:00Z","email":"m"#)
            latin1.writeBytes([0xFC, 0x6C, 0x6C, 0x65, 0x72])
            latin1.writeString(#"@us.example"}"#)
            let bad = try await client.execute(uri: "/api/v1/events", method: .post, headers: headers, body: latin1) { $0.status }
            #expect(bad == .badRequest)
            #expect(try await client.call(.get, "/api/v1/touchpoints", token: f.tokens[.admin]).data.isEmpty)
            #expect(try await client.call(.get, "/api/v1/contacts", token: f.tokens[.admin]).data.isEmpty)
        }
    }

    @Test("YAML bombs and deep nesting in model files are refused with a line and column")
    func yamlBombs() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await f.app().test(.live) { client in
            let admin = f.tokens[.admin]
            var laughs = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
            for i in 1..<12 { laughs += "\(Character(UnicodeScalar(97 + i)!)): &\(Character(UnicodeScalar(97 + i)!)) [" + Array(repeating: "*\(Character(UnicodeScalar(96 + i)!))", count: 9).joined(separator: ",") + "]\n" }
            laughs += "half_life: *l\n"
            let deep = String(repeating: "[", count: 50_000) + String(repeating: "]", count: 50_000)
            let nested = (0..<700).map { String(repeating: "  ", count: $0) + "k\($0):" }.joined(separator: "\n") + " 1\n"
            for (name, text) in [("aliases", laughs), ("flow nesting", deep), ("block nesting", nested), ("binary", "\u{0}\u{1}\u{FFFE}")] {
                for path in ["/api/v1/scoring/validate", "/api/v1/handover/validate"] {
                    let r = try await client.call(.post, path, token: admin, body: text, contentType: "application/yaml")
                    #expect(r.status == .ok || r.status == .unprocessableContent, "\(name) at \(path) → \(r.status)")
                    if r.status == .ok {
                        #expect(r.json["valid"] as? Bool == false)
                        let problems = r.json["problems"] as? [[String: Any]] ?? []
                        #expect(!problems.isEmpty && problems.allSatisfy { $0["line"] is Int && $0["column"] is Int }, "\(name): \(r.text.prefix(300))")
                    } else {
                        #expect(r.isProblem)
                    }
                }
                let apply = try await client.call(.post, "/api/v1/scoring/apply", token: admin, body: text, contentType: "application/yaml")
                #expect(apply.status == .unprocessableContent && apply.isProblem, "\(name) apply → \(apply.status)")
            }
            #expect(try await client.call(.get, "/api/v1/scoring/model", token: admin).status == .notFound)
        }
    }

    @Test("undeclared methods answer 405 with Allow; unknown paths 404")
    func methods() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        try await f.app().test(.live) { client in
            let admin = f.tokens[.admin]
            let put = try await client.call(.put, "/api/v1/contacts", token: admin, body: "{}")
            #expect(put.status == .methodNotAllowed && put.isProblem)
            #expect(put.headers[.allow] == "GET, POST")
            let onID = try await client.call(.post, "/api/v1/contacts/c1", token: admin, body: "{}")
            #expect(onID.status == .methodNotAllowed && onID.headers[.allow] == "DELETE, GET, PATCH")
            // A literal segment wins over {id}, as the router resolves it.
            let dup = try await client.call(.delete, "/api/v1/contacts/duplicates", token: admin)
            #expect(dup.status == .methodNotAllowed && dup.headers[.allow] == "GET")
            #expect(try await client.call(.post, "/openapi.json", token: nil).headers[.allow] == "GET")
            #expect(try await client.call(.get, "/api/v1/nothing-here", token: admin).status == .notFound)
        }
    }
}
