import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SmarketingCore
import SmarketingServer
import SmarketingStore
import Testing

@Suite("Event ingest over HTTP")
struct IngestAPITests {
    @Test("one event, an array and NDJSON; results per event; re-sending is harmless")
    func shapes() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let token = f.tokens[.marketing]
        try await f.app().test(.live) { client in
            let one = try await client.call(
                .post,
                "/api/v1/events",
                token: token,
                body:
                    #"{"id":"e1","type":"form_submit","occurred_at":"2026-03-01T09:15:00+01:00","email":"Anna@Acme.example","first_name":"Anna","company":"Acme GmbH","properties":{"url":"/pricing"}}"#
            )
            #expect(one.status == .ok, "\(one.text)")
            #expect(one.json["accepted"] as? Int == 1)
            let results = one.json["results"] as! [[String: Any]]
            let contactID = try #require(results[0]["contact_id"] as? String)
            let array = try await client.call(
                .post,
                "/api/v1/events",
                token: token,
                body:
                    #"[{"id":"e2","type":"page_view","occurred_at":"2026-03-01T10:00:00Z","contact_id":"\#(contactID)"},{"id":"e1","type":"form_submit","occurred_at":"2026-03-01T08:15:00Z","email":"anna@acme.example"}]"#
            )
            #expect(array.status == .ok)
            #expect((array.json["results"] as! [[String: Any]]).map { $0["status"] as! String } == ["accepted", "duplicate"])
            let ndjson = """
                {"id":"e3","type":"email_click","occurred_at":"2026-03-02T10:00:00Z","email":"bo@acme.example"}

                {"id":"e4","type":"page_view","occurred_at":"2026-03-02T11:00:00Z","email":"bo@acme.example","properties":{"url":"/careers"}}
                """
            let nd = try await client.call(.post, "/api/v1/events", token: token, body: ndjson, contentType: "application/x-ndjson")
            #expect(nd.status == .ok && nd.json["accepted"] as? Int == 2, "\(nd.text)")
            let contacts = try await client.call(.get, "/api/v1/contacts?limit=100", token: token)
            #expect(contacts.data.count == 2)  // Anna and Bo
            let accounts = try await client.call(.get, "/api/v1/accounts", token: token)
            #expect(accounts.data.count == 1 && accounts.data[0]["name"] as? String == "Acme GmbH")
            let tp = try await client.call(.get, "/api/v1/touchpoints/e1", token: token)
            #expect(tp.json["occurred_at"] as? String == "2026-03-01T08:15:00Z")
            #expect(tp.json["properties"] as? [String: String] == ["url": "/pricing"])
            #expect(try await client.call(.get, "/api/v1/touchpoints?contact=\(contactID)", token: token).data.count == 2)
            #expect(
                try await client.call(
                    .post,
                    "/api/v1/events",
                    token: f.tokens[.viewer],
                    body: #"{"id":"e9","type":"x","occurred_at":"2026-03-01T09:15:00Z","contact_id":"\#(contactID)"}"#
                ).status == .forbidden
            )
        }
    }

    @Test("a batch with a bad event stores nothing unless partial=true")
    func atomicity() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let token = f.tokens[.sales]
        try await f.app().test(.live) { client in
            let batch =
                #"[{"id":"a1","type":"call","occurred_at":"2026-03-01T09:00:00Z","email":"x@co.example","actor_id":"u-sales"},{"id":"a2","type":"call","occurred_at":"2026-03-01T09:00:00","email":"y@co.example"},{"id":"a3","type":"meeting","occurred_at":"2026-03-01T09:00:00Z","email":"z@co.example","actor_id":"u-ghost"},{"id":"a4","type":"x","occurred_at":"2026-03-01T09:00:00Z","contact_id":"c1","shoe_size":44}]"#
            let r = try await client.call(.post, "/api/v1/events", token: token, body: batch)
            #expect(r.status == .unprocessableContent && r.isProblem)
            let results = r.json["results"] as! [[String: Any]]
            #expect(results.map { $0["status"] as! String } == ["rejected", "rejected", "rejected", "rejected"])
            #expect((results[1]["reason"] as! String).contains("no UTC offset"))
            #expect((results[2]["reason"] as! String).contains("u-ghost"))
            #expect((results[3]["reason"] as! String).contains("shoe_size"))
            #expect((results[0]["reason"] as! String).hasPrefix("not stored"))
            #expect(try await f.store.count(.touchpoints) == 0)
            #expect(try await f.store.count(.contacts) == 0)
            let partial = try await client.call(.post, "/api/v1/events?partial=true", token: token, body: batch)
            #expect(partial.status == .ok && partial.json["accepted"] as? Int == 1 && partial.json["rejected"] as? Int == 3)
            #expect(try await f.store.count(.touchpoints) == 1)
        }
    }

    @Test("concurrent requests are group-committed and all answered")
    func concurrency() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let token = f.tokens[.admin]!
        try await f.app().test(.live) { client in
            let port = try #require(client.port)
            try await withThrowingTaskGroup(of: Int.self) { group in
                for w in 0..<16 {
                    group.addTask {
                        var ok = 0
                        for i in 0..<20 {
                            // Through AsyncHTTPClient with a generous deadline: the test client's
                            // 20 s read timeout fails this test when the whole suite loads two cores.
                            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/api/v1/events")
                            request.method = .POST
                            request.headers.add(name: "Authorization", value: "Bearer \(token)")
                            request.headers.add(name: "Content-Type", value: "application/json")
                            request.body = .bytes(
                                ByteBuffer(string: #"{"id":"w\#(w)-\#(i)","type":"page_view","occurred_at":"2026-03-01T09:00:00Z","email":"w\#(w)@load.example"}"#)
                            )
                            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(180))
                            _ = try await response.body.collect(upTo: 1 << 20)
                            if response.status == .ok { ok += 1 }
                        }
                        return ok
                    }
                }
                var total = 0
                for try await n in group { total += n }
                #expect(total == 320)
            }
            #expect(try await f.store.count(.touchpoints) == 320)
            #expect(try await f.store.count(.contacts) == 16)
            #expect(try await f.store.count(.accounts) == 1)
        }
    }
}
