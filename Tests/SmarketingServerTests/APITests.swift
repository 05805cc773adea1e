import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SmarketingCore
import SmarketingServer
import SmarketingStore
import Testing

@Suite("HTTP API over loopback")
struct APITests {
    @Test("every API route needs a valid token; roles decide what it may do", arguments: ServerBackend.allCases)
    func authentication(backend: ServerBackend) async throws {
        let f = try await Fixture.make(backend)
        defer { f.remove() }
        try await f.app().test(.live) { client in
            let none = try await client.call(.get, "/api/v1/contacts", token: nil)
            #expect(none.status == .unauthorized && none.isProblem)
            #expect(none.headers[.wwwAuthenticate] != nil)
            let wrong = try await client.call(.get, "/api/v1/contacts", token: "smk_nope")
            #expect(wrong.status == .unauthorized && wrong.isProblem)
            for role in AccessRole.allCases {
                #expect(try await client.call(.get, "/api/v1/contacts", token: f.tokens[role]).status == .ok, "\(role) reads")
            }
            let campaign = #"{"id":"cmp1","name":"Spring","channel":"email"}"#
            let viewer = try await client.call(.post, "/api/v1/campaigns", token: f.tokens[.viewer], body: campaign)
            #expect(viewer.status == .forbidden && viewer.isProblem && (viewer.json["detail"] as? String)?.contains("viewer") == true)
            #expect(try await client.call(.post, "/api/v1/campaigns", token: f.tokens[.sales], body: campaign).status == .forbidden)
            #expect(try await client.call(.post, "/api/v1/campaigns", token: f.tokens[.marketing], body: campaign).status == .created)
            #expect(try await client.call(.post, "/api/v1/accounts", token: f.tokens[.sales], body: #"{"id":"a1","name":"Acme"}"#).status == .created)
            #expect(
                try await client.call(
                    .post,
                    "/api/v1/opportunities",
                    token: f.tokens[.marketing],
                    body: #"{"id":"o1","account_id":"a1","created_at":"2026-01-01T00:00:00Z"}"#
                ).status == .forbidden
            )
            #expect(
                try await client.call(
                    .post,
                    "/api/v1/opportunities",
                    token: f.tokens[.sales],
                    body: #"{"id":"o1","account_id":"a1","created_at":"2026-01-01T00:00:00Z"}"#
                ).status == .created
            )
            // Only admins manage users, tokens and read the audit log.
            #expect(
                try await client.call(.post, "/api/v1/users", token: f.tokens[.marketing], body: #"{"id":"u9","email":"x@us.example"}"#).status == .forbidden
            )
            #expect(
                try await client.call(.post, "/api/v1/tokens", token: f.tokens[.sales], body: #"{"user_id":"u-sales","role":"admin"}"#).status == .forbidden
            )
            #expect(try await client.call(.get, "/api/v1/audit", token: f.tokens[.marketing]).status == .forbidden)
            let created = try await client.call(.post, "/api/v1/tokens", token: f.tokens[.admin], body: #"{"user_id":"u-viewer","role":"viewer","name":"bi"}"#)
            #expect(created.status == .created)
            let newToken = try #require(created.json["token"] as? String)
            #expect(try await client.call(.get, "/api/v1/accounts", token: newToken).status == .ok)
            #expect(try await client.call(.delete, "/api/v1/tokens/\(created.json["id"] as! String)", token: f.tokens[.admin]).status == .noContent)
            #expect(try await client.call(.get, "/api/v1/accounts", token: newToken).status == .unauthorized)
            let audit = try await client.call(.get, "/api/v1/audit?limit=50", token: f.tokens[.admin])
            #expect(audit.data.contains { ($0["actor"] as? String)?.hasPrefix("u-sales (token:") == true && $0["resource"] as? String == "opportunities" })
            // The raw token is never stored.
            let stored = try await f.storedBytes()
            #expect(stored.contains("u-viewer") && !stored.contains(newToken))
        }
    }

    @Test("errors are problem+json with a useful detail", arguments: ServerBackend.allCases)
    func problems(backend: ServerBackend) async throws {
        let f = try await Fixture.make(backend)
        defer { f.remove() }
        let admin = f.tokens[.admin]
        try await f.app(maxBodyBytes: 4096).test(.live) { client in
            let cases: [(HTTPRequest.Method, String, String?, HTTPResponse.Status, String)] = [
                (.get, "/api/v1/nothing-here", nil, .notFound, "openapi.json"),
                (.get, "/api/v1/contacts/ghost", nil, .notFound, "ghost"),
                (.post, "/api/v1/campaigns", "{oops", .badRequest, "not valid JSON"),
                (.post, "/api/v1/campaigns", "[1]", .unprocessableContent, "must be a JSON object"),
                (.post, "/api/v1/campaigns", #"{"id":"c","name":"n"}"#, .unprocessableContent, "\"channel\" is required"),
                (.post, "/api/v1/campaigns", #"{"id":"c","name":"n","channel":"x","colour":"red"}"#, .unprocessableContent, "unknown field \"colour\""),
                (.post, "/api/v1/campaigns", #"{"id":"c","name":"n","channel":"x","budget":"lots"}"#, .unprocessableContent, "field \"budget\" must be a number"),
                (.post, "/api/v1/contacts", #"{"id":"c","email":"a@b.example","created_at":"2026-01-01T00:00:00"}"#, .unprocessableContent, "no UTC offset"),
                (
                    .post, "/api/v1/contacts", #"{"id":"c","email":"a@b.example","created_at":"2026-01-01T00:00:00Z","account_id":"nope"}"#, .conflict,
                    "names no accounts"
                ),
                (.get, "/api/v1/contacts?limit=0", nil, .unprocessableContent, "limit"),
                (.get, "/api/v1/contacts?colour=red", nil, .unprocessableContent, "unknown filter"),
                (.get, "/api/v1/contacts?sort=colour", nil, .unprocessableContent, "sort must be one of"),
                (.get, "/api/v1/contacts?cursor=bm9wZQ", nil, .notFound, "cursor"),
                (.post, "/api/v1/events", String(repeating: " ", count: 5000), .contentTooLarge, "larger than"),
                (.post, "/api/v1/events", "", .badRequest, "no events"),
                (.post, "/api/v1/events", "{\"id\":", .badRequest, "not valid JSON"),
                (.post, "/api/v1/events", "42", .badRequest, "NDJSON"),
            ]
            for (method, uri, body, status, detail) in cases {
                let r = try await client.call(method, uri, token: admin, body: body)
                #expect(r.status == status, "\(method) \(uri) \(body ?? "")")
                #expect(r.isProblem, "\(uri): \(r.text)")
                #expect((r.json["detail"] as? String)?.contains(detail) == true, "\(uri): \(r.text)")
            }
        }
    }

    @Test("CRUD, filters, search, sorting and cursor paging over HTTP", arguments: ServerBackend.allCases)
    func records(backend: ServerBackend) async throws {
        let f = try await Fixture.make(backend)
        defer { f.remove() }
        let token = f.tokens[.admin]
        try await f.app().test(.live) { client in
            #expect(
                try await client.call(.post, "/api/v1/accounts", token: token, body: #"{"id":"a1","name":"Acme Corp","domain":"https://www.ACME.example/"}"#)
                    .status == .created
            )
            for i in 0..<25 {
                let body =
                    #"{"id":"c\#(String(format: "%02d", i))","email":"p\#(i)@acme.example","first_name":"P\#(i)","account_id":"a1","created_at":"2026-01-\#(String(format: "%02d", i + 1))T09:00:00+01:00","lifecycle_stage":"\#(i % 5 == 0 ? "mql" : "lead")","owner_id":\#(i % 2 == 0 ? "\"u-sales\"" : "null")}"#
                let r = try await client.call(.post, "/api/v1/contacts", token: token, body: body)
                #expect(r.status == .created, "\(r.text)")
            }
            let account = try await client.call(.get, "/api/v1/accounts/a1", token: token)
            #expect(account.json["domain"] as? String == "acme.example")
            let c = try await client.call(.get, "/api/v1/contacts/c03", token: token)
            #expect(c.json["created_at"] as? String == "2026-01-04T08:00:00Z")
            #expect(c.json["title"] is NSNull)
            var ids: [String] = []
            var uri = "/api/v1/contacts?limit=7&sort=-created_at"
            while true {
                let page = try await client.call(.get, uri, token: token)
                ids += page.data.map { $0["id"] as! String }
                guard let next = page.json["next_cursor"] as? String else { break }
                uri = "/api/v1/contacts?limit=7&sort=-created_at&cursor=\(next.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)"
            }
            #expect(ids == (0..<25).reversed().map { String(format: "c%02d", $0) })
            #expect(try await client.call(.get, "/api/v1/contacts?stage=mql&limit=100", token: token).data.count == 5)
            #expect(try await client.call(.get, "/api/v1/contacts?owner=u-sales&stage=mql", token: token).data.count == 3)
            #expect(
                try await client.call(.get, "/api/v1/contacts?created_from=2026-01-10T00:00:00Z&created_to=2026-01-12T00:00:00Z", token: token).data.count == 2
            )
            #expect(try await client.call(.get, "/api/v1/contacts?q=p1", token: token).data.count == 11)
            #expect(try await client.call(.get, "/api/v1/contacts?q=acme%20corp&limit=100", token: token).data.count == 25)
            let patched = try await client.call(.patch, "/api/v1/contacts/c01", token: token, body: #"{"title":"CMO","owner_id":"u-sales"}"#)
            #expect(patched.status == .ok && patched.json["title"] as? String == "CMO")
            #expect(try await client.call(.delete, "/api/v1/accounts/a1", token: token).status == .conflict)
            #expect(try await client.call(.delete, "/api/v1/contacts/c24", token: token).status == .noContent)
            #expect(try await client.call(.get, "/api/v1/contacts/c24", token: token).status == .notFound)
            // Deals with their contact roles.
            #expect(
                try await client.call(
                    .post,
                    "/api/v1/opportunities",
                    token: token,
                    body: #"{"id":"o1","account_id":"a1","created_at":"2026-02-01T00:00:00Z","amount":12000.5,"is_won":null}"#
                ).status == .created
            )
            #expect(
                try await client.call(
                    .post,
                    "/api/v1/opportunity-contacts",
                    token: token,
                    body: #"{"opportunity_id":"o1","contact_id":"c01","role":"champion"}"#
                ).status == .created
            )
            let roles = try await client.call(.get, "/api/v1/opportunities/o1/contacts", token: token)
            #expect(roles.data.first?["role"] as? String == "champion" && roles.data.first?["id"] as? String == "o1|c01")
            #expect(try await client.call(.get, "/api/v1/opportunities/o1", token: token).json["amount"] as? Double == 12000.5)
            // Merge through the API.
            let merged = try await client.call(.post, "/api/v1/contacts/merge", token: token, body: #"{"keep":"c00","duplicate":"c01"}"#)
            #expect(merged.status == .ok && merged.json["title"] as? String == "CMO")
            #expect(try await client.call(.get, "/api/v1/opportunities/o1/contacts", token: token).data.first?["contact_id"] as? String == "c00")
        }
    }
}
