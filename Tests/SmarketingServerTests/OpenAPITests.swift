import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SmarketingCore
import SmarketingServer
import SmarketingStore
import Testing

@Suite("OpenAPI description matches the routes")
struct OpenAPITests {
    /// A valid body for each create route, in dependency order.
    static let createBodies: [String: String] = [
        "/api/v1/users": #"{"id":"u-new","email":"new@us.example","team":"sales"}"#,
        "/api/v1/personas": #"{"id":"per1","name":"CMO","rules":{"titles":["CMO"]}}"#,
        "/api/v1/accounts": #"{"id":"acc1","name":"Acme","domain":"acme.example"}"#,
        "/api/v1/campaigns": #"{"id":"cmp1","name":"Spring","channel":"email"}"#,
        "/api/v1/content": #"{"id":"cnt1","title":"Guide","type":"whitepaper","funnel_stage":"tofu"}"#,
        "/api/v1/contacts": #"{"id":"ct1","email":"a@acme.example","created_at":"2026-01-01T00:00:00Z","account_id":"acc1"}"#,
        "/api/v1/costs": #"{"date":"2026-01-01","category":"marketing","amount":100,"campaign_id":"cmp1"}"#,
        "/api/v1/opportunities": #"{"id":"opp1","account_id":"acc1","created_at":"2026-01-02T00:00:00Z"}"#,
        "/api/v1/opportunity-contacts": #"{"opportunity_id":"opp1","contact_id":"ct1","role":"champion"}"#,
        "/api/v1/targets": #"{"period":"2026-01","metric":"mqls","value":100}"#,
        // A HubSpot connection whose vendor answers nothing (the discard port): test and sync run
        // in the background and fail there; the API answers 202 at once.
        "/api/v1/campaigns/{id}/review": #"{"text":"Keep it running; the MQLs are good","decision":"continue"}"#,
        "/api/v1/meetings": #"{"week":"2026-W01","title":"Weekly sync","attendees":["u-sales"]}"#,
        "/api/v1/action-items": #"{"title":"Call back","owner_id":"u-sales","due":"2026-01-10","meeting_id":1}"#,
        "/api/v1/connections": #"{"vendor":"hubspot","name":"conn1","base_url":"http://127.0.0.1:9","credentials":{"access_token":"t"},"settings":{"sync_interval_minutes":"0"}}"#,
    ]
    static let ids: [String: String] = [
        "users": "u-new", "personas": "per1", "accounts": "acc1", "campaigns": "cmp1", "content": "cnt1", "contacts": "ct1",
        "costs": "2026-01-01%7Cmarketing%7Ccmp1", "opportunities": "opp1", "opportunity-contacts": "opp1%7Cct1",
        "targets": "2026-01%7Cmqls%7C", "touchpoints": "tp1", "tokens": "TOKEN", "connections": "conn1",
        "meetings": "1", "action-items": "1", "owners": "kpi.mqls",
    ]

    @Test("every documented operation answers with a documented status; unknown routes are 404", arguments: ServerBackend.allCases)
    func matches(backend: ServerBackend) async throws {
        let f = try await Fixture.make(backend)
        defer { f.remove() }
        let admin = f.tokens[.admin]!
        try await f.app().test(.live) { client in
            let specReply = try await client.call(.get, "/openapi.json", token: nil)
            #expect(specReply.status == .ok)
            let spec = specReply.json
            #expect(spec["openapi"] as? String == "3.1.0")
            let paths = try #require(spec["paths"] as? [String: [String: Any]])
            // Order: creates first (dependency order), then reads and updates, then the rest, deletes last.
            var operations: [(path: String, method: String, statuses: Set<Int>)] = []
            for (path, ops) in paths {
                for (method, op) in ops {
                    let responses = (op as! [String: Any])["responses"] as! [String: Any]
                    operations.append((path, method, Set(responses.keys.compactMap { Int($0) })))
                }
            }
            let createOrder = Resource.importOrder.map { "/api/v1/" + $0.pathSegment }
            func rank(_ op: (path: String, method: String, statuses: Set<Int>)) -> (Int, Int, String) {
                switch op.method {
                case "post" where createOrder.contains(op.path): return (0, createOrder.firstIndex(of: op.path)!, op.path)
                case "post" where op.path == "/api/v1/events": return (1, 0, op.path)
                case "post" where op.path == "/api/v1/meetings": return (1, 1, op.path)
                case "post" where op.path == "/api/v1/action-items": return (1, 2, op.path)
                case "post" where op.path == "/api/v1/connections": return (0, -1, op.path)
                case "delete": return (4, -(createOrder.firstIndex { op.path.hasPrefix($0 + "/") } ?? 0), op.path)
                case "post": return (3, 0, op.path)
                default: return (2, 0, op.path)
                }
            }
            operations.sort { rank($0) < rank($1) }
            #expect(operations.count == APIRoute_count)
            // Events go to a contact of their own, so that every record here can be deleted at the end.
            #expect(
                try await client.call(
                    .post,
                    "/api/v1/contacts",
                    token: admin,
                    body: #"{"id":"ct-events","email":"events@else.example","created_at":"2026-01-01T00:00:00Z"}"#
                ).status == .created
            )
            // A model is active, so the scoring reads have something to show; its job id is the one read.
            let model = try String(contentsOfFile: exampleModelPath(), encoding: .utf8)
            let modelBody = String(decoding: try JSONEncoder().encode(["model": model]), as: UTF8.self)
            let applied = try await client.call(.post, "/api/v1/scoring/apply?comment=first", token: admin, body: modelBody)
            #expect(applied.status == .accepted, "\(applied.text)")
            let jobID = try #require(applied.json["id"] as? String)
            try await waitForJob(client, jobID, token: admin)
            // The handover: a configuration, a webhook subscription, and one handover per action
            // (contacts moved to MQL by hand), so every handover route has an open one to act on.
            let handoverConfig = #"""
                calendars: {always: {timezone: UTC, hours: {every_day: "00:00-24:00"}}}
                teams: {sales: {calendar: always, manager: u-admin, members: [u-sales]}}
                reasons: {timing: {label: Timing, action: recycle}}
                routing: [{id: pool, team: sales}]
                fallback: {queue: triage, owner: u-admin}
                sla: [{id: std, accept_within: 4h business, first_touch_within: 8h, warn_before: 1h}]
                """#
            let configReply = try await client.call(.post, "/api/v1/handover/apply", token: admin, body: handoverConfig, contentType: "application/yaml")
            #expect(configReply.status == .ok, "\(configReply.text)")
            var handoverIDs: [String: String] = [:]
            for (i, action) in ["accept", "pause", "qualify", "reassign", "reject", "resume", "read"].enumerated() {
                let body = #"{"id":"ct-h\#(i)","email":"h\#(i)@else.example","created_at":"2026-01-01T00:00:00Z","lifecycle_stage":"lead"}"#
                #expect(try await client.call(.post, "/api/v1/contacts", token: admin, body: body).status == .created)
                #expect(try await client.call(.patch, "/api/v1/contacts/ct-h\(i)", token: admin, body: #"{"lifecycle_stage":"mql"}"#).status == .ok)
                let h = try await client.call(.get, "/api/v1/handovers?contact=ct-h\(i)", token: admin)
                handoverIDs[action] = try #require(h.data.first?["id"] as? Int).description
            }
            let hook = try await client.call(.post, "/api/v1/webhooks", token: admin, body: #"{"url":"http://127.0.0.1:9/x","events":["*"]}"#)
            let webhookID = try #require((hook.json["subscription"] as? [String: Any])?["id"] as? String)
            var tokenID = ""
            var settingsJob = ""
            let doc = try JSONDecoder().decode(JSONValue.self, from: Data(specReply.text.utf8))
            var validated = 0
            for op in operations {
                var uri = op.path
                if let segment = op.path.split(separator: "/").dropFirst(2).first, let id = Self.ids[String(segment)] {
                    uri = uri.replacingOccurrences(of: "{id}", with: id == "TOKEN" ? tokenID : id)
                }
                uri = uri.replacingOccurrences(of: "/scoring/jobs/{id}", with: "/scoring/jobs/" + jobID)
                if op.path.hasPrefix("/api/v1/handovers/{id}") {
                    let action = op.path.split(separator: "/").count > 4 ? String(op.path.split(separator: "/").last!) : "read"
                    uri = uri.replacingOccurrences(of: "{id}", with: handoverIDs[action]!)
                }
                uri = uri.replacingOccurrences(of: "/webhooks/{id}", with: "/webhooks/" + webhookID)
                var body: String?
                switch (op.method, op.path) {
                case ("post", "/api/v1/events"): body = #"{"id":"tp1","type":"page_view","occurred_at":"2026-01-03T00:00:00Z","contact_id":"ct-events"}"#
                case ("post", "/api/v1/contacts/merge"):
                    _ = try await client.call(
                        .post,
                        "/api/v1/contacts",
                        token: admin,
                        body: #"{"id":"ct2","email":"A@acme.example","created_at":"2026-01-05T00:00:00Z"}"#
                    )
                    body = #"{"keep":"ct1","duplicate":"ct2"}"#
                case ("post", let path) where path.hasPrefix("/api/v1/scoring/"): body = modelBody
                case ("post", let path) where path.hasPrefix("/api/v1/handover/"):
                    body = String(decoding: try JSONEncoder().encode(["config": handoverConfig]), as: UTF8.self)
                case ("post", let path) where path.hasPrefix("/api/v1/kpi-config/"):
                    body = String(decoding: try JSONEncoder().encode(["config": "kpis: {mqls: {good: 30, bad: 20}}\n"]), as: UTF8.self)
                case ("post", "/api/v1/handovers/{id}/reject"): body = #"{"reason":"timing"}"#
                case ("post", "/api/v1/handovers/{id}/reassign"): body = #"{"owner_id":"u-sales"}"#
                case ("post", "/api/v1/webhooks"): body = #"{"url":"https://hooks.example/x","events":["sla.breached"],"format":"slack"}"#
                case ("post", "/api/v1/webhooks/{id}/replay"): body = #"{"from_seq":1}"#
                case ("post", "/api/v1/tokens"): body = #"{"user_id":"u-viewer","role":"viewer"}"#
                case ("post", "/api/v1/users/{id}/password"): body = #"{"password":"correct horse battery"}"#
                case ("put", "/api/v1/contacts/{id}/consent"): body = #"{"status":"unsubscribed","source":"support ticket 7"}"#
                case ("post", "/api/v1/contacts/{id}/erase"): body = #"{"reason":"Art. 17 request, ticket 1"}"#
                case ("post", "/api/v1/lead-ratings"): body = #"{"handover_id":\#(handoverIDs["accept"]!),"rating":"good","reason":"right_fit"}"#
                case ("post", _): body = Self.createBodies[op.path]
                case ("patch", "/api/v1/settings"):
                    // A change that rebuilds the aggregates, as a background job (202 and its Location).
                    uri += "?background=true"
                    body = #"{"workspace.currency":"EUR","kpi.stale_days":21,"kpi.sla_hours":8}"#
                case ("patch", "/api/v1/meetings/{id}"): body = #"{"decision":"Keep the SLA at 24 h"}"#
                case ("patch", "/api/v1/action-items/{id}"): body = #"{"status":"done"}"#
                case ("patch", _): body = "{}"
                default: break
                }
                if op.path == "/api/v1/stream" { uri += "?once=true" }
                if op.path == "/api/v1/settings/jobs/{id}" { uri = settingsJob }
                if op.path == "/api/v1/kpis/{id}/records" { uri = "/api/v1/kpis/mqls/records" }
                let r = try await client.call(HTTPRequest.Method(op.method.uppercased())!, uri, token: admin, body: body)
                #expect(op.statuses.contains(Int(r.status.code)), "\(op.method) \(uri) answered \(r.status.code): \(r.text)")
                #expect(r.status.code < 300, "\(op.method) \(uri) should succeed with valid input: \(r.text)")
                if op.path == "/api/v1/tokens", op.method == "post" { tokenID = r.json["id"] as? String ?? "" }
                if op.path == "/api/v1/settings", op.method == "patch" {
                    #expect(r.status == .accepted, "\(r.text)")
                    settingsJob = r.headers[.location] ?? ""
                }
                if op.path == "/api/v1/stream" {
                    #expect(r.headers[.contentType] == "text/event-stream" && r.text.hasPrefix("retry: 1000\nid: "), "\(r.text.prefix(200))")
                } else if r.status.code < 300, r.status != .noContent {
                    #expect(r.headers[.contentType] == "application/json")
                    // The body has the documented shape: documented keys only, each of a documented type.
                    if let schema = Self.responseSchema(doc, op.path, op.method, Int(r.status.code)) {
                        let body = try JSONDecoder().decode(JSONValue.self, from: Data(r.text.utf8))
                        let problems = Self.check(body, schema, doc, at: "$")
                        #expect(problems.isEmpty, "\(op.method) \(uri): \(problems)")
                        validated += 1
                    }
                }
                if op.path.hasPrefix("/api/v1") {
                    let anonymous = try await client.call(HTTPRequest.Method(op.method.uppercased())!, uri, token: nil, body: body)
                    #expect(anonymous.status == .unauthorized, "\(op.method) \(uri) without a token")
                }
            }
            #expect(validated >= 40, "only \(validated) responses were checked against their schema")
            for (method, uri) in [("GET", "/api/v1/widgets"), ("PUT", "/api/v1/contacts/ct1"), ("GET", "/api/v2/contacts")] {
                let r = try await client.call(HTTPRequest.Method(method)!, uri, token: admin)
                #expect(r.status == .notFound || r.status == .methodNotAllowed, "\(method) \(uri)")
                #expect(r.isProblem)
            }
        }
    }
}

extension OpenAPITests {
    static func member(_ v: JSONValue, _ path: String...) -> JSONValue? {
        var cur = v
        for key in path {
            guard case .object(let o) = cur, let next = o[key] else { return nil }
            cur = next
        }
        return cur
    }

    static func responseSchema(_ doc: JSONValue, _ path: String, _ method: String, _ status: Int) -> JSONValue? {
        member(doc, "paths", path, method, "responses", String(status), "content", "application/json", "schema")
    }

    /// Where `value` does not fit `schema` (types, known properties, required ones, array items).
    static func check(_ value: JSONValue, _ schema: JSONValue, _ doc: JSONValue, at where_: String) -> [String] {
        var schema = schema
        if let ref = member(schema, "$ref")?.string, let name = ref.split(separator: "/").last,
            let resolved = member(doc, "components", "schemas", String(name))
        {
            schema = resolved
        }
        var types: [String] = []
        switch member(schema, "type") {
        case .string(let t)?: types = [t]
        case .array(let ts)?: types = ts.compactMap(\.string)
        default: return []
        }
        let actual: String
        switch value {
        case .null: actual = "null"
        case .bool: actual = "boolean"
        case .number(let n): actual = n == n.rounded() && types.contains("integer") ? "integer" : "number"
        case .string: actual = "string"
        case .array: actual = "array"
        case .object: actual = "object"
        }
        guard types.contains(actual) || (actual == "integer" && types.contains("number")) else {
            return ["\(where_) is \(actual), documented as \(types)"]
        }
        var problems: [String] = []
        if case .object(let o) = value, case .object(let props)? = member(schema, "properties") {
            for (k, v) in o {
                guard let p = props[k] else {
                    problems.append("\(where_).\(k) is not documented")
                    continue
                }
                problems += check(v, p, doc, at: where_ + "." + k)
            }
            if case .array(let required)? = member(schema, "required") {
                for case .string(let k) in required where o[k] == nil { problems.append("\(where_).\(k) is required but missing") }
            }
        }
        if case .array(let items) = value, let itemSchema = member(schema, "items") {
            for (i, item) in items.enumerated() { problems += check(item, itemSchema, doc, at: "\(where_)[\(i)]") }
        }
        return problems
    }
}

/// Documented operations: 5 per resource except touchpoints (read-only), 8 special routes, /openapi.json, /healthz and /readyz,
/// 9 scoring routes, 21 handover, report and webhook routes.
let APIRoute_count = Resource.allCases.count * 5 - 3 + 8 + 3 + 9 + 21 + 4 + 2 + 6 + 3 + 10 + 2 + 2 + 2 + 2 + 5 + 3 + 3 + 1
