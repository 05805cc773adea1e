import Foundation
import HTTPTypes
import HummingbirdTesting
import SmarketingConnectors
import SmarketingCore
import SmarketingServer
import SmarketingStore
import Testing

@Suite("Weekly sync API")
struct MeetingAPITests {
    @Test("agenda = KPI set; a meeting's decisions and action items; items reach the owner's inbox and the next agenda; minutes; roles", arguments: ServerBackend.allCases)
    func weeklySync(backend: ServerBackend) async throws {
        let f = try await Fixture.make(backend)
        defer { f.remove() }
        let demo = FileManager.default.temporaryDirectory.appendingPathComponent("smk-meeting-demo-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: demo) }
        _ = try DemoWorkspace(leads: 300, seed: 2).write(to: demo)
        #expect(try await f.store.importRows(try Bundle.open(demo), options: ImportOptions(), actor: Fixture.actor, at: Fixture.clock.now()) { _ in }.committed)
        let marketing = f.tokens[.marketing]
        let sales = f.tokens[.sales]
        let viewer = f.tokens[.viewer]
        try await f.app().test(.live) { client in
            // The agenda's KPIs are the KPI set's for the same week and quarter to date.
            let agenda = try await client.call(.get, "/api/v1/agenda?week=2025-W38", token: viewer)
            #expect(agenda.status == .ok, "\(agenda.text)")
            #expect(agenda.json["schema"] as? String == "smarketing-agenda/1" && agenda.json["week"] as? String == "2025-W38")
            let week = try await client.call(.get, "/api/v1/kpis?from=2025-09-15&to=2025-09-22", token: viewer)
            let qtd = try await client.call(.get, "/api/v1/kpis?from=2025-07-01&to=2025-09-22", token: viewer)
            func mqls(_ r: Reply, _ side: String) -> Int? {
                (((r.json["total"] as? [String: Any])?[side] as? [String: Any])?["mql_volume"] as? [String: Any])?["mqls"] as? Int
            }
            let rows = agenda.json["kpis"] as? [[String: Any]] ?? []
            let mqlRow = try #require(rows.first { $0["key"] as? String == "mqls" })
            #expect((mqlRow["week"] as? Double).map { Int($0) } == mqls(week, "current"))
            #expect((mqlRow["previous_week"] as? Double).map { Int($0) } == mqls(week, "previous"))
            #expect((mqlRow["quarter_to_date"] as? Double).map { Int($0) } == mqls(qtd, "current"))
            #expect((mqlRow["quarter_to_date"] as? Double ?? 0) > 0)
            for bad in ["2025-W54", "2025-W53", "2025-38", "W38"] {
                let r = try await client.call(.get, "/api/v1/agenda?week=\(bad)", token: viewer)
                #expect(r.status == .unprocessableContent && r.isProblem, "\(bad): \(r.status)")
            }

            // Viewers read but do not record.
            let refused = try await client.call(.post, "/api/v1/meetings", token: viewer, body: #"{"week":"2025-W38"}"#)
            #expect(refused.status == .forbidden && refused.isProblem)
            let unknown = try await client.call(.post, "/api/v1/meetings", token: marketing, body: #"{"week":"2025-W38","attendees":["ghost"]}"#)
            #expect(unknown.status == .conflict && (unknown.json["detail"] as? String)?.contains("ghost") == true, "\(unknown.text)")

            let created = try await client.call(.post, "/api/v1/meetings", token: marketing, body: #"{"week":"2025-W38","attendees":["u-marketing","u-sales"]}"#)
            #expect(created.status == .created, "\(created.text)")
            let id = try #require(created.json["id"] as? Int)
            #expect(created.headers[.location] == "/api/v1/meetings/\(id)" && created.json["status"] as? String == "open")
            let decided = try await client.call(.patch, "/api/v1/meetings/\(id)", token: sales, body: #"{"decision":"Call every webinar lead within 4 h | same day"}"#)
            #expect(decided.status == .ok && (decided.json["decisions"] as? [String])?.count == 1, "\(decided.text)")
            let emptyPatch = try await client.call(.patch, "/api/v1/meetings/\(id)", token: sales, body: "{}")
            #expect(emptyPatch.status == .unprocessableContent && emptyPatch.isProblem)

            // An action item agreed in the meeting, owned by the sales user.
            let badDue = try await client.call(.post, "/api/v1/action-items", token: marketing, body: #"{"title":"x","owner_id":"u-sales","due":"2035-01-01"}"#)
            #expect(badDue.status == .unprocessableContent && (badDue.json["detail"] as? String)?.contains("five years") == true, "\(badDue.text)")
            let item = try await client.call(
                .post, "/api/v1/action-items", token: marketing, body: #"{"title":"Call back the demo requests","owner_id":"u-sales","due":"2025-12-30","meeting_id":\#(id)}"#
            )
            #expect(item.status == .created, "\(item.text)")
            let itemID = try #require(item.json["id"] as? Int)
            #expect(item.json["due"] as? String == "2025-12-30" && item.json["meeting_id"] as? Int == id && item.json["status"] as? String == "open")
            // It is in the owner's inbox, overdue against the fixed clock (2026-01-01) …
            let inbox = try await client.call(.get, "/api/v1/inbox", token: sales)
            #expect((inbox.json["action_items"] as? [[String: Any]])?.map { $0["id"] as? Int } == [itemID], "\(inbox.text.prefix(300))")
            // … and in the next week's agenda, counted overdue.
            let next = try await client.call(.get, "/api/v1/agenda?week=2025-W39", token: viewer)
            #expect((next.json["action_items"] as? [[String: Any]])?.map { $0["id"] as? Int } == [itemID])
            #expect(next.json["overdue_items"] as? Int == 1)

            // Finish: the minutes carry the decision and the item; nothing changes afterwards.
            let finished = try await client.call(.post, "/api/v1/meetings/\(id)/finish", token: marketing)
            #expect(finished.status == .ok && finished.json["status"] as? String == "finished" && finished.json["agenda"] is [String: Any], "\(finished.text.prefix(300))")
            let again = try await client.call(.post, "/api/v1/meetings/\(id)/finish", token: marketing)
            #expect(again.status == .conflict && again.isProblem)
            let late = try await client.call(.patch, "/api/v1/meetings/\(id)", token: sales, body: #"{"decision":"too late"}"#)
            #expect(late.status == .conflict && late.isProblem)
            let md = try await client.call(.get, "/api/v1/meetings/\(id)/minutes", token: viewer)
            let text = md.json["text"] as? String ?? ""
            #expect(md.status == .ok && text.contains("# Weekly sync 2025-W38: Weekly sync") && text.contains("- Call every webinar lead within 4 h | same day"), "\(text.prefix(400))")
            #expect(text.contains("[ ] Call back the demo requests: u-sales, due 2025-12-30 (overdue)"), "\(text)")
            let html = try await client.call(.get, "/api/v1/meetings/\(id)/minutes?format=html", token: viewer)
            #expect((html.json["text"] as? String)?.contains("<ul><li>Call every webinar lead within 4 h | same day</li></ul>") == true)

            // Done: off the inbox and the agenda.
            let viewerDone = try await client.call(.patch, "/api/v1/action-items/\(itemID)", token: viewer, body: #"{"status":"done"}"#)
            #expect(viewerDone.status == .forbidden)
            let done = try await client.call(.patch, "/api/v1/action-items/\(itemID)", token: sales, body: #"{"status":"done"}"#)
            #expect(done.status == .ok && done.json["done_by"] as? String == "u-sales", "\(done.text)")
            #expect((try await client.call(.get, "/api/v1/inbox", token: sales).json["action_items"] as? [Any])?.isEmpty == true)
            let list = try await client.call(.get, "/api/v1/meetings?limit=1", token: viewer)
            #expect(list.data.count == 1 && list.json.keys.contains("next_before"))
            let missing = try await client.call(.get, "/api/v1/meetings/999999", token: viewer)
            #expect(missing.status == .notFound && missing.isProblem)
        }
    }

    @Test("the forecast of the current quarter and its backtest on the demo history")
    func forecast() async throws {
        let f = try await Fixture.make(.sqlite)
        defer { f.remove() }
        let demo = FileManager.default.temporaryDirectory.appendingPathComponent("smk-forecast-demo-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: demo) }
        _ = try DemoWorkspace(leads: 1_500, seed: 4).write(to: demo)
        #expect(try await f.store.importRows(try Bundle.open(demo), options: ImportOptions(), actor: Fixture.actor, at: Fixture.clock.now()) { _ in }.committed)
        var q = ListQuery()
        q.limit = 1_000
        q.equals["closed_at"] = .null
        let open = try await f.store.list(.opportunities, q).records
        try await f.app().test(.live) { client in
            let r = try await client.call(.get, "/api/v1/forecast", token: f.tokens[.viewer])
            #expect(r.status == .ok, "\(r.text)")
            #expect(r.json["quarter_from"] as? String == "2026-01-01" && r.json["quarter_to"] as? String == "2026-04-01")
            // On the quarter's first midnight nothing is won yet; every open deal is counted.
            #expect(r.json["won_so_far"] as? Double == 0 && r.json["open_deals"] as? Int == open.count)
            let forecast = r.json["forecast"] as? Double ?? -1
            #expect(forecast >= 0 && (r.json["low"] as? Double ?? 1) <= forecast && forecast <= (r.json["high"] as? Double ?? -1))
            let b = try await client.call(.get, "/api/v1/forecast/backtest", token: f.tokens[.viewer])
            #expect(b.status == .ok && (b.json["quarters"] as? Int ?? 0) >= 4, "\(b.text.prefix(300))")
            let mape = try #require(b.json["mape"] as? Double)
            let coverage = try #require(b.json["coverage"] as? Double)
            #expect(mape.isFinite && mape >= 0 && (0...1).contains(coverage))
            #expect((b.json["by_week"] as? [[String: Any]])?.first?["week"] as? Int == 0)
        }
    }

    @Test("a campaign's joint review: figures equal the KPI set's, notes from both teams, the standing decision; roles", arguments: ServerBackend.allCases)
    func campaignReview(backend: ServerBackend) async throws {
        let f = try await Fixture.make(backend)
        defer { f.remove() }
        let demo = FileManager.default.temporaryDirectory.appendingPathComponent("smk-review-demo-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: demo) }
        _ = try DemoWorkspace(leads: 300, seed: 2).write(to: demo)
        #expect(try await f.store.importRows(try Bundle.open(demo), options: ImportOptions(), actor: Fixture.actor, at: Fixture.clock.now()) { _ in }.committed)
        try await f.app().test(.live) { client in
            let kpis = try await client.call(.get, "/api/v1/kpis?from=2025-07-01&to=2025-10-01&by=campaign", token: f.tokens[.viewer])
            let groups = ((kpis.json["by"] as? [String: Any])?["campaign"] as? [[String: Any]]) ?? []
            let busiest = try #require(groups.max { (($0["current"] as? [String: Any])?["mql_volume"] as? [String: Any])?["mqls"] as? Int ?? 0 < (($1["current"] as? [String: Any])?["mql_volume"] as? [String: Any])?["mqls"] as? Int ?? 0 })
            let id = try #require(busiest["key"] as? String)
            let mqls = ((busiest["current"] as? [String: Any])?["mql_volume"] as? [String: Any])?["mqls"] as? Int

            #expect(try await client.call(.post, "/api/v1/campaigns/\(id)/review", token: f.tokens[.viewer], body: #"{"text":"x"}"#).status == .forbidden)
            #expect(try await client.call(.post, "/api/v1/campaigns/nope/review", token: f.tokens[.marketing], body: #"{"text":"x"}"#).status == .notFound)
            let bad = try await client.call(.post, "/api/v1/campaigns/\(id)/review", token: f.tokens[.marketing], body: #"{"text":"x","decision":"pause"}"#)
            #expect(bad.status == .unprocessableContent && bad.isProblem)
            let m = try await client.call(.post, "/api/v1/campaigns/\(id)/review", token: f.tokens[.marketing], body: #"{"text":"MQLs are up, cost per MQL too"}"#)
            #expect(m.status == .created && m.json["author"] as? String == "u-marketing" && m.json["decision"] is NSNull, "\(m.text)")
            let s = try await client.call(.post, "/api/v1/campaigns/\(id)/review", token: f.tokens[.sales], body: #"{"text":"Half the leads are students: change the targeting","decision":"change"}"#)
            #expect(s.status == .created && s.json["decision"] as? String == "change")

            let review = try await client.call(.get, "/api/v1/campaigns/\(id)/review?from=2025-07-01&to=2025-10-01&model=w_shaped", token: f.tokens[.viewer])
            #expect(review.status == .ok && review.json["schema"] as? String == "smarketing-campaign-review/1", "\(review.text.prefix(300))")
            let figures = try #require(review.json["figures"] as? [String: Any])
            #expect(figures["mqls"] as? Int == mqls && figures["model"] as? String == "w_shaped")
            #expect((review.json["notes"] as? [[String: Any]])?.count == 2)
            #expect((review.json["decision"] as? [String: Any])?["decision"] as? String == "change")
            #expect(try await client.call(.get, "/api/v1/campaigns/nope/review", token: f.tokens[.viewer]).status == .notFound)
        }
    }

    @Test("owners: everyone reads, admins set them (checked, audited); the agenda names the owner of each KPI", arguments: ServerBackend.allCases)
    func owners(backend: ServerBackend) async throws {
        let f = try await Fixture.make(backend)
        defer { f.remove() }
        try await f.app().test(.live) { client in
            let list = try await client.call(.get, "/api/v1/owners", token: f.tokens[.viewer])
            #expect(list.status == .ok && list.data.count == OwnedSubjects.all.count && list.data.allSatisfy { $0["is_default"] as? Bool == true })
            let refused = try await client.call(.patch, "/api/v1/owners/kpi.mqls", token: f.tokens[.marketing], body: #"{"responsible":"u-marketing"}"#)
            #expect(refused.status == .forbidden && refused.isProblem)
            let unknown = try await client.call(.patch, "/api/v1/owners/kpi.mqls", token: f.tokens[.admin], body: #"{"responsible":"ghost"}"#)
            #expect(unknown.status == .conflict && (unknown.json["detail"] as? String)?.contains("ghost") == true)
            #expect(try await client.call(.patch, "/api/v1/owners/kpi.colour", token: f.tokens[.admin], body: "{}").status == .notFound)
            let set = try await client.call(
                .patch, "/api/v1/owners/kpi.mqls", token: f.tokens[.admin], body: #"{"team":"marketing","responsible":"u-marketing","informed":["u-sales","u-viewer"]}"#
            )
            #expect(set.status == .ok && set.json["responsible"] as? String == "u-marketing" && set.json["informed"] as? [String] == ["u-sales", "u-viewer"], "\(set.text)")
            let agenda = try await client.call(.get, "/api/v1/agenda", token: f.tokens[.viewer])
            let row = (agenda.json["kpis"] as? [[String: Any]])?.first { $0["key"] as? String == "mqls" }
            #expect(row?["owner"] as? String == "Marketing · u-marketing", "\(String(describing: row))")
            let acceptance = (agenda.json["kpis"] as? [[String: Any]])?.first { $0["key"] as? String == "mql_acceptance" }
            #expect(acceptance?["owner"] as? String == "Sales", "the default team until someone is named")
        }
    }

    @Test("kpis.yaml over the API: validate with line and column, diff, apply (admin), custom KPIs in /api/v1/kpis and /api/v1/kpis/custom")
    func kpiConfig() async throws {
        let f = try await Fixture.make(.sqlite)
        defer { f.remove() }
        let demo = FileManager.default.temporaryDirectory.appendingPathComponent("smk-kpicfg-demo-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: demo) }
        _ = try DemoWorkspace(leads: 300, seed: 2).write(to: demo)
        #expect(try await f.store.importRows(try Bundle.open(demo), options: ImportOptions(), actor: Fixture.actor, at: Fixture.clock.now()) { _ in }.committed)
        let example = try String(contentsOfFile: exampleHandoverPath().replacingOccurrences(of: "handover.yaml", with: "kpis.yaml"), encoding: .utf8)
        try await f.app().test(.live) { client in
            let admin = f.tokens[.admin]
            let bad = try await client.call(.post, "/api/v1/kpi-config/validate", token: admin, body: "custom:\n  x:\n    value: nope.figure\n", contentType: "application/yaml")
            #expect(bad.status == .ok && bad.json["valid"] as? Bool == false && (bad.json["problems"] as? [String])?.first?.hasPrefix("line 3, column 12") == true, "\(bad.text)")
            let good = try await client.call(.post, "/api/v1/kpi-config/validate", token: admin, body: example, contentType: "application/yaml")
            #expect(good.json["valid"] as? Bool == true && good.json["custom"] as? Int == 3, "\(good.text)")
            let diff = try await client.call(.post, "/api/v1/kpi-config/diff", token: admin, body: example, contentType: "application/yaml")
            #expect((diff.json["changes"] as? [String])?.contains("custom.total_spend: added (Marketing and sales spend)") == true)
            #expect(try await client.call(.post, "/api/v1/kpi-config/apply", token: f.tokens[.marketing], body: example, contentType: "application/yaml").status == .forbidden)
            // The example names users of the demo workspace as owners.
            let applied = try await client.call(.post, "/api/v1/kpi-config/apply?comment=Q3", token: admin, body: example, contentType: "application/yaml")
            #expect(applied.status == .ok && applied.json["version"] as? Int == 1, "\(applied.text)")
            let config = try await client.call(.get, "/api/v1/kpi-config", token: f.tokens[.viewer])
            #expect(config.json["version"] as? Int == 1 && (config.json["text"] as? String) == example)

            let custom = try await client.call(.get, "/api/v1/kpis/custom?from=2025-01-01&to=2025-07-01", token: f.tokens[.viewer])
            let values = custom.data
            #expect(values.map { $0["id"] as? String } == ["webinar_mql_to_opportunity", "paid_search_response", "total_spend"], "\(custom.text)")
            let kpis = try await client.call(.get, "/api/v1/kpis?from=2025-01-01&to=2025-07-01&by=channel", token: f.tokens[.viewer])
            let inReport = kpis.json["custom"] as? [[String: Any]] ?? []
            #expect(inReport.map { $0["current"] as? Double } == values.map { $0["current"] as? Double })
            // The ratio is the KPI set's own figures under the cut.
            let webinar = ((kpis.json["by"] as? [String: Any])?["channel"] as? [[String: Any]])?.first { $0["key"] as? String == "webinar" }
            let cohort = ((webinar?["current"] as? [String: Any])?["lead_to_opportunity"] as? [String: Any])?["mql_cohort"] as? [String: Any]
            let population = cohort?["population"] as? Double ?? 0
            #expect(population > 0, "the demo has webinar MQLs in the half year")
            let expected = (cohort?["converted"] as? Double).map { $0 / population }
            #expect(expected != nil && abs((values.first?["current"] as? Double ?? -1) - (expected ?? -2)) < 1e-12, "\(String(describing: expected)) \(String(describing: values.first))")
        }
    }
}
