import Foundation
import HTTPTypes
import HummingbirdTesting
import SmarketingConnectors
import SmarketingCore
import SmarketingServer
import SmarketingStore
import Testing

@Suite("Lead-quality feedback API")
struct LeadQualityAPITests {
    @Test("sales rates its answered leads; marketing reads the mix per campaign and month; the scoring backtest replays the rated leads")
    func ratings() async throws {
        let w = try await WebWorkspace.make(leads: 300)
        defer { w.remove() }
        let now = WebWorkspace.clock.now()
        var hq = HandoverQuery()
        hq.openOnly = true
        let open = try await w.store.handovers(hq, at: now).filter { $0.status == .assigned }
        #expect(open.count >= 2)
        let rep = try #require(open.first?.ownerID)
        let mine = open.filter { $0.ownerID == rep }
        func token(_ user: String, _ role: AccessRole) async throws -> String {
            let t = APIToken.generate()
            _ = try await w.store.createToken(userID: user, role: role, name: "t", hash: APIToken.hash(t), actor: Fixture.actor, at: now)
            return t
        }
        let sales = try await token(rep, .sales)
        let marketing = try await token("u-mkt-1", .marketing)
        let first = try #require(mine.first)
        try await w.app().test(.live) { client in
            // Not yet answered: nothing to rate.
            let early = try await client.call(.post, "/api/v1/lead-ratings", token: sales, body: #"{"handover_id":\#(first.id),"rating":"good"}"#)
            #expect(early.status == .conflict && early.isProblem && (early.json["detail"] as? String)?.contains("assigned") == true, "\(early.text)")
            #expect(try await client.call(.post, "/api/v1/handovers/\(first.id)/accept", token: sales).status == .ok)
            // Marketing reads but does not rate; a reason must fit the rating; unknown reasons fail the schema.
            let byMarketing = try await client.call(.post, "/api/v1/lead-ratings", token: marketing, body: #"{"handover_id":\#(first.id),"rating":"good"}"#)
            #expect(byMarketing.status == .forbidden && byMarketing.isProblem)
            let mismatch = try await client.call(.post, "/api/v1/lead-ratings", token: sales, body: #"{"handover_id":\#(first.id),"rating":"good","reason":"no_budget"}"#)
            // The document lists the reasons of each rating: a mismatch fails the schema, naming the field.
            #expect(mismatch.status == .unprocessableContent && mismatch.isProblem, "\(mismatch.text)")
            let unknown = try await client.call(.post, "/api/v1/lead-ratings", token: sales, body: #"{"handover_id":\#(first.id),"rating":"meh"}"#)
            #expect(unknown.status == .unprocessableContent)
            let rated = try await client.call(.post, "/api/v1/lead-ratings", token: sales, body: #"{"handover_id":\#(first.id),"rating":"bad","reason":"wrong_persona"}"#)
            #expect(rated.status == .ok && rated.json["rating"] as? String == "bad" && rated.json["rated_by"] as? String == rep, "\(rated.text)")

            let report = try await client.call(.get, "/api/v1/lead-quality?from=2025-10-01&to=2026-04-01&by=campaign", token: marketing)
            #expect(report.status == .ok && report.json["schema"] as? String == "smarketing-lead-quality/1", "\(report.text)")
            let total = try #require(report.json["total"] as? [String: Any])
            #expect(total["answered"] as? Int == 1 && total["rated"] as? Int == 1 && total["bad"] as? Int == 1 && total["accepted"] as? Int == 1)
            #expect((total["bad_reasons"] as? [[String: Any]])?.first?["reason"] as? String == "wrong_persona")
            let groups = report.json["groups"] as? [[String: Any]] ?? []
            #expect(groups.count == 1 && groups.first?["key"] as? String == (first.campaignID ?? "(none)"))
            let months = try await client.call(.get, "/api/v1/lead-quality?from=2025-10-01&to=2026-04-01&by=month", token: marketing)
            #expect((months.json["groups"] as? [[String: Any]])?.map { $0["key"] as? String } == ["2026-01"])
            #expect(try await client.call(.get, "/api/v1/lead-quality?by=colour", token: marketing).status == .unprocessableContent)

            // The scoring backtest replays the rated lead under the candidate and the active model.
            let body = String(decoding: try JSONEncoder().encode(["model": DemoWorkspace.scoringModelText]), as: UTF8.self)
            let bt = try await client.call(.post, "/api/v1/scoring/backtest?horizon=30d", token: marketing, body: body)
            let ratings = try #require(bt.json["ratings"] as? [String: Any], "\(bt.text.prefix(300))")
            let candidate = try #require(ratings["candidate"] as? [String: Any])
            #expect(candidate["rated"] as? Int == 1 && candidate["bad"] as? Int == 1)
            // The candidate is the active model's text: both replay the same way.
            let current = try #require(ratings["current"] as? [String: Any])
            #expect(candidate["sent_bad"] as? Int == current["sent_bad"] as? Int && candidate["good_missed"] as? Int == 0, "\(ratings)")
            #expect([0, 1].contains(candidate["sent_bad"] as? Int ?? -1))
        }
    }
}
