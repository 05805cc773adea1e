import Foundation
import HTTPTypes
import HummingbirdTesting
import SmarketingConnectors
import SmarketingCore
import SmarketingStore
import Testing

@Suite("Web: workspace settings")
struct WebWorkspaceSettingsTests {
    @Test("Settings → Workspace shows every setting, refuses a bad value beside the form, saves a good one, and refuses a stale form")
    func workspaceSettingsPage() async throws {
        let w = try await WebWorkspace.make(leads: 150)
        defer { w.remove() }
        try await w.app().test(.live) { client in
            let base = "http://127.0.0.1:\(client.port!)"
            let browser = try Browser()
            defer { browser.quit() }
            let tab = try await browser.tab()
            _ = try await WebBrowserTests.signIn(tab, base: base, w.people[.admin]!)
            try await tab.open(base + "/settings/workspace")
            for key in WorkspaceSettingKey.allCases {
                #expect(try await tab.eval("document.querySelector('input[name=\"\(key.rawValue)\"]').value") as? String == key.defaultValue, "\(key)")
            }
            // A zone that does not exist: the form comes back with the reason and what was typed.
            try await tab.fill(["input[name='workspace.timezone']": "Europe/Berln", "input[name='kpi.sla_hours']": "8"])
            try await tab.clickAndWait("form[action='/settings/workspace/save'] button")
            #expect(try await tab.text("#err-settings").contains("not an IANA time zone"))
            #expect(try await tab.eval("document.querySelector('input[name=\"workspace.timezone\"]').getAttribute('aria-invalid')") as? String == "true")
            #expect(try await tab.eval("document.querySelector('input[name=\"workspace.timezone\"]').value") as? String == "Europe/Berln")
            _ = tab.takeProblems()  // the 422 of the form post
            #expect(try await w.store.workspaceSettings().version == 0)

            // A good change saves, is reported, and the page shows the new version.
            try await tab.fill(["input[name='workspace.timezone']": "Europe/Berlin"])
            try await tab.clickAndWait("form[action='/settings/workspace/save'] button")
            // A new zone rebuilds the figures in the background: the page follows the job.
            let jobPage = try await tab.path
            #expect(jobPage.hasPrefix("/settings/workspace?job=job-"), "\(jobPage)")
            var flash = try await tab.text("#settings-job")
            for _ in 0..<100 where flash.contains("Rebuilding") {
                try await Task.sleep(for: .milliseconds(200))
                try await tab.open(base + jobPage)
                flash = try await tab.text("#settings-job")
            }
            #expect(flash.contains("workspace.timezone UTC → Europe/Berlin") && flash.contains("kpi.sla_hours 24 → 8") && flash.contains("rebuilt"), "\(flash)")
            let stored = try await w.store.workspaceSettings()
            #expect(stored.version == 1 && stored.settings.timeZone.identifier == "Europe/Berlin" && stored.settings.slaHours == 8)
            #expect(try await w.store.verifyKPIs().mismatches.isEmpty)

            // Someone else changes the settings while this form is open: saving it is refused.
            _ = try await w.store.changeSettings(["kpi.stale_days": "30"], ifVersion: nil, actor: Actor(userID: "other", role: .admin, via: "test"), at: Timestamp(seconds: 1_767_225_600))
            try await tab.fill(["input[name='workspace.currency']": "EUR"])
            try await tab.clickAndWait("form[action='/settings/workspace/save'] button")
            #expect(try await tab.text("#err-settings").contains("changed the settings meanwhile"))
            _ = tab.takeProblems()
            #expect(try await w.store.workspaceSettings().settings.currency == "USD")
        }
    }
}

@Suite("Web: a workspace before its first scoring model")
struct WebWithoutModelTests {
    @Test("a lead's page opens without a score breakdown (it answered 409 before a model was applied)")
    func leadPageWithoutModel() async throws {
        let w = try await WebWorkspace.make(leads: 120, scoringModel: false)
        defer { w.remove() }
        var q = ListQuery()
        q.limit = 1
        let lead = try #require(try await w.store.list(.contacts, q).records.first)
        try await w.app().test(.router) { client in
            let (admin, _, _) = try await WebSettingsTests.signIn(client, w.people[.admin]!)
            let page = try await WebSessionTests.call(client, .get, "/leads/" + lead.id, cookies: [admin])
            #expect(page.status == .ok, "\(page.status): \(page.text.prefix(300))")
            #expect(!page.text.contains("Score breakdown"))
        }
    }
}

@Suite("Web: times in the viewer's zone")
struct WebViewerZoneTests {
    @Test("a lead's timeline shows times in the viewer's own zone, named; without one, in the workspace's")
    func viewerZone() async throws {
        let w = try await WebWorkspace.make(leads: 120)
        defer { w.remove() }
        var q = ListQuery()
        q.limit = 1
        let lead = try #require(try await w.store.list(.contacts, q).records.first)
        // Set before anyone signs in (the web app caches the user list for a few seconds): the
        // admin has a zone of their own, the marketer none, the workspace Asia/Tokyo.
        let marketer = try #require(w.people[.marketing])
        var uq = ListQuery()
        uq.equals["email"] = .text(marketer.email)
        let marketerID = try #require(try await w.store.list(.users, uq).records.first?.id)
        _ = try await w.store.update(.users, id: "u-admin", fields: ["timezone": .text("America/New_York")], actor: Fixture.actor, at: Fixture.clock.now())
        _ = try await w.store.update(.users, id: marketerID, fields: ["timezone": .null], actor: Fixture.actor, at: Fixture.clock.now())
        _ = try await w.store.changeSettings(["workspace.timezone": "Asia/Tokyo"], ifVersion: nil, actor: Fixture.actor, at: Fixture.clock.now())
        try await w.app().test(.router) { client in
            let (admin, _, _) = try await WebSettingsTests.signIn(client, w.people[.admin]!)
            let own = try await WebSessionTests.call(client, .get, "/leads/" + lead.id, cookies: [admin])
            #expect(own.status == .ok && own.text.contains(" America/New_York<"), "\(own.text.prefix(300))")
            #expect(!own.text.contains(" UTC<"))
            let (market, _, _) = try await WebSettingsTests.signIn(client, marketer)
            let workspace = try await WebSessionTests.call(client, .get, "/leads/" + lead.id, cookies: [market])
            #expect(workspace.status == .ok && workspace.text.contains(" Asia/Tokyo<"), "\(workspace.text.prefix(300))")
        }
    }
}

@Suite("Web: change annotations on the dashboard")
struct WebChangeAnnotationTests {
    @Test("applied models and files, settings and target changes mark the dashboard's curves at their month and are listed under the tiles")
    func annotations() async throws {
        let w = try await WebWorkspace.make(leads: 150)
        defer { w.remove() }
        _ = try await w.store.changeSettings(["kpi.stale_days": "21"], ifVersion: nil, actor: Actor(userID: "u-admin", role: .admin, via: "test"), at: WebWorkspace.clock.now())
        try await w.app().test(.router) { client in
            let (admin, _, _) = try await WebSettingsTests.signIn(client, w.people[.viewer]!)
            let page = try await WebSessionTests.call(client, .get, "/?from=2026-01-01&to=2026-04-01", cookies: [admin])
            #expect(page.status == .ok)
            #expect(page.text.contains("id=\"changes\"") && page.text.contains("kpi.stale_days changed: 14 → 21"), "\(page.text.prefix(200))")
            #expect(page.text.contains("scoring model v1 applied") && page.text.contains("handover configuration v1 applied"))
            // A marker at January (the month of the changes) on every tile curve that has data, titled with them.
            let markers = page.text.components(separatedBy: "<line class=\"marker\"").count - 1
            #expect(markers >= 1, "\(markers)")
            #expect(page.text.contains("2026-01-01: kpi.stale_days changed: 14 → 21"))
            // The tiles name their owners.
            #expect(page.text.contains("owner: Sales") && page.text.contains("owner: RevOps"))
        }
    }
}

@Suite("Web: owners in the settings")
struct WebOwnersTests {
    @Test("an admin names who is responsible for a KPI on Settings → Owners; the dashboard tile shows it; a bad person is refused")
    func owners() async throws {
        let w = try await WebWorkspace.make(leads: 120)
        defer { w.remove() }
        try await w.app().test(.router) { client in
            let (admin, csrf, _) = try await WebSettingsTests.signIn(client, w.people[.admin]!)
            let page = try await WebSessionTests.call(client, .get, "/settings/owners", cookies: [admin])
            #expect(page.status == .ok && page.text.contains("data-subject=\"kpi.win_rate\""))
            let saved = try await WebSessionTests.call(
                client, .post, "/settings/owners/save", cookies: [admin],
                form: ["_csrf": csrf, "subject": "kpi.win_rate", "team": "sales", "responsible": "u-sales-mgr", "accountable": "", "consulted": "u-admin", "informed": ""]
            )
            #expect(saved.status == .seeOther && (saved.headers[.location] ?? "").contains("ok="), "\(saved.headers[.location] ?? "")")
            #expect(try await w.store.owners().first { $0.subject == "kpi.win_rate" }?.responsible == "u-sales-mgr")
            let bad = try await WebSessionTests.call(
                client, .post, "/settings/owners/save", cookies: [admin], form: ["_csrf": csrf, "subject": "kpi.win_rate", "responsible": "ghost"]
            )
            #expect((bad.headers[.location] ?? "").contains("bad="))
            let dashboard = try await WebSessionTests.call(client, .get, "/", cookies: [admin])
            #expect(dashboard.text.contains("owner: Sales · Sam Sales"))
        }
    }
}

@Suite("Web: kpis.yaml on the dashboard")
struct WebKPIConfigTests {
    @Test("after applying examples/kpis.yaml the dashboard colours the tiles it sets thresholds for and shows the custom KPIs")
    func dashboard() async throws {
        let w = try await WebWorkspace.make(leads: 300)
        defer { w.remove() }
        let example = try String(contentsOfFile: exampleHandoverPath().replacingOccurrences(of: "handover.yaml", with: "kpis.yaml"), encoding: .utf8)
        _ = try await KPIConfigReads.apply(w.store, text: example, comment: "", actor: Fixture.actor, at: WebWorkspace.clock.now())
        try await w.app().test(.router) { client in
            let (viewer, _, _) = try await WebSettingsTests.signIn(client, w.people[.viewer]!)
            let page = try await WebSessionTests.call(client, .get, "/?from=2025-10-01&to=2026-04-01", cookies: [viewer])
            #expect(page.status == .ok)
            for id in ["webinar_mql_to_opportunity", "paid_search_response", "total_spend"] { #expect(page.text.contains("data-custom-kpi=\"\(id)\""), "\(id)") }
            #expect(page.text.contains("Marketing and sales spend") && page.text.contains("channel=webinar"))
            // win_rate and lead_response_time have thresholds in the example: their tiles carry a status.
            #expect(page.text.range(of: "class=\"tile status-(green|amber|red)\" data-kpi=\"win_rate\"", options: .regularExpression) != nil, "\(page.text.prefix(100))")
            #expect(page.text.contains("KPI file v1 applied"), "the apply is a change annotation")
        }
    }
}
