import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SmarketingCore
import SmarketingServer
import SmarketingStore
import Testing

@Suite("Scoring over HTTP")
struct ScoringAPITests {
    @Test("marketing and admin change the model; a bad model is refused with every problem and changes nothing; scores explain themselves")
    func scoringEndpoints() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let model = try String(contentsOfFile: exampleModelPath(), encoding: .utf8)
        let body = String(decoding: try JSONEncoder().encode(["model": model]), as: UTF8.self)
        try await f.app().test(.live) { client in
            // Nothing applied yet.
            let none = try await client.call(.get, "/api/v1/scoring/model", token: f.tokens[.viewer])
            #expect(none.status == .notFound && none.isProblem)
            // Only marketing and admin may diff or apply; everyone may validate.
            for role in [AccessRole.sales, .viewer] {
                let r = try await client.call(.post, "/api/v1/scoring/apply", token: f.tokens[role], body: body)
                #expect(r.status == .forbidden && r.isProblem, "\(role)")
                #expect(try await client.call(.post, "/api/v1/scoring/diff", token: f.tokens[role], body: body).status == .forbidden)
            }
            let valid = try await client.call(.post, "/api/v1/scoring/validate", token: f.tokens[.viewer], body: model, contentType: "application/yaml")
            #expect(valid.status == .ok && valid.json["valid"] as? Bool == true)
            // A contact to score (grade A: software, 500 people, a CMO in Germany), and events for it.
            #expect(
                try await client.call(
                    .post,
                    "/api/v1/accounts",
                    token: f.tokens[.marketing],
                    body: #"{"id":"a1","name":"Acme","industry":"Software","employees":500}"#
                ).status == .created
            )
            #expect(
                try await client.call(
                    .post,
                    "/api/v1/contacts",
                    token: f.tokens[.marketing],
                    body:
                        #"{"id":"ct1","email":"ann@acme.example","title":"CMO","country":"DE","account_id":"a1","created_at":"2026-01-01T00:00:00Z","lifecycle_stage":"lead"}"#
                ).status == .created
            )
            let diff = try await client.call(.post, "/api/v1/scoring/diff", token: f.tokens[.marketing], body: body)
            #expect(diff.status == .ok && diff.json["contacts"] as? Int == 1, "\(diff.text)")
            let applied = try await client.call(.post, "/api/v1/scoring/apply?comment=launch", token: f.tokens[.marketing], body: body)
            #expect(applied.status == .accepted && applied.headers[.location]?.hasPrefix("/api/v1/scoring/jobs/") == true)
            try await waitForJob(client, applied.json["id"] as! String, token: f.tokens[.marketing]!)
            let active = try await client.call(.get, "/api/v1/scoring/model", token: f.tokens[.sales])
            #expect(active.json["version"] as? Int == 1 && active.json["comment"] as? String == "launch" && active.json["status"] as? String == "active")
            #expect((active.json["applied_at"] as? String)?.hasSuffix("Z") == true)
            // A broken model: 422 with line and column of every problem; version 1 stays active.
            let broken = model.replacingOccurrences(of: "types: [webinar_attended]", with: "types: [webinar_atended]")
                .replacingOccurrences(of: "mql: engagement >= 50", with: "mql: engagment >= 50")
            let bad = try await client.call(.post, "/api/v1/scoring/apply", token: f.tokens[.admin], body: broken, contentType: "application/yaml")
            #expect(bad.status == .unprocessableContent && bad.isProblem)
            let problems = try #require(bad.json["problems"] as? [[String: Any]])
            #expect(problems.count == 2 && problems.allSatisfy { ($0["line"] as? Int ?? 0) > 0 && ($0["column"] as? Int ?? 0) > 0 })
            #expect((bad.json["detail"] as? String)?.contains("nothing was applied") == true)
            let versions = try await client.call(.get, "/api/v1/scoring/versions", token: f.tokens[.viewer])
            #expect((versions.json["data"] as? [Any])?.count == 1)
            // Events raise the score; the contact explains it.
            let events = (0..<4).map { i in
                #"{"id":"w\#(i)","type":"webinar_attended","occurred_at":"\#(Fixture.nowText)","contact_id":"ct1"}"#
            }
            let sent = try await client.call(.post, "/api/v1/events", token: f.tokens[.sales], body: "[" + events.joined(separator: ",") + "]")
            #expect(sent.status == .ok, "\(sent.text)")
            let score = try await client.call(.get, "/api/v1/contacts/ct1/score", token: f.tokens[.viewer])
            #expect(score.status == .ok, "\(score.text)")
            #expect(score.json["model_version"] as? Int == 1 && score.json["contact_id"] as? String == "ct1")
            let rules = try #require(score.json["engagement_rules"] as? [[String: Any]])
            let webinar = try #require(rules.first { $0["rule"] as? String == "webinar" })
            #expect(webinar["count"] as? Int == 4 && webinar["raw_points"] as? Double == 60)
            let fitRules = try #require(score.json["fit_rules"] as? [[String: Any]])
            #expect(fitRules.contains { $0["rule"] as? String == "executive-title" && $0["matched"] as? Bool == true })
            let moves = try await client.call(.get, "/api/v1/contacts/ct1/transitions", token: f.tokens[.viewer])
            let data = try #require(moves.json["data"] as? [[String: Any]])
            #expect(data.last?["to"] as? String == "mql" && data.last?["actor"] as? String == "rule:mql", "\(moves.text)")
            #expect((score.json["grade"] as? String) == "A")
            #expect(try await client.call(.get, "/api/v1/contacts/nobody/score", token: f.tokens[.viewer]).status == .notFound)
            // The backtest runs for marketing; viewers may not.
            let bt = try await client.call(.post, "/api/v1/scoring/backtest?horizon=30d", token: f.tokens[.marketing], body: body)
            #expect(bt.status == .ok && bt.json["candidate"] != nil, "\(bt.text)")
            #expect(try await client.call(.post, "/api/v1/scoring/backtest", token: f.tokens[.viewer], body: body).status == .forbidden)
        }
    }

    @Test("a new persona reaches existing contacts: they are matched and graded again in the background")
    func personaChangesRegrade() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let model = try String(contentsOfFile: exampleModelPath(), encoding: .utf8)
        let body = String(decoding: try JSONEncoder().encode(["model": model]), as: UTF8.self)
        try await f.app().test(.live) { client in
            let created = try await client.call(
                .post,
                "/api/v1/contacts",
                token: f.tokens[.marketing],
                body: #"{"id":"ct1","email":"ann@acme.example","title":"Chief Revenue Officer","created_at":"2026-01-01T00:00:00Z"}"#
            )
            #expect(created.status == .created)
            let applied = try await client.call(.post, "/api/v1/scoring/apply", token: f.tokens[.admin], body: body)
            try await waitForJob(client, applied.json["id"] as! String, token: f.tokens[.admin]!)
            let before = try await client.call(.get, "/api/v1/contacts/ct1/score", token: f.tokens[.viewer])
            #expect(before.json["persona"] == nil || before.json["persona"] is NSNull)
            let persona = try await client.call(
                .post,
                "/api/v1/personas",
                token: f.tokens[.marketing],
                body: #"{"id":"per-cro","name":"CRO","rules":{"titles":["chief revenue*"]}}"#
            )
            #expect(persona.status == .created)
            let job = try #require(persona.headers[HTTPField.Name("Smarketing-Rescore-Job")!])
            try await waitForJob(client, String(job.split(separator: "/").last!), token: f.tokens[.marketing]!)
            let after = try await client.call(.get, "/api/v1/contacts/ct1/score", token: f.tokens[.viewer])
            #expect(after.json["persona"] as? String == "per-cro", "\(after.text)")
            #expect((after.json["persona_reasons"] as? [String])?.first?.contains("chief revenue") == true)
            let contact = try await client.call(.get, "/api/v1/contacts/ct1", token: f.tokens[.viewer])
            #expect(contact.json["persona_id"] as? String == "per-cro")
            let rules = try #require(after.json["fit_rules"] as? [[String: Any]])
            #expect(rules.contains { $0["rule"] as? String == "buyer-persona" && $0["matched"] as? Bool == true })
        }
    }
}
