import Foundation
import HummingbirdTesting
import SmarketingConnectors
import SmarketingCore
import SmarketingStore
import Testing

@Suite("Web: the weekly sync in headless Chromium", .serialized, .enabled(if: Browser.executable != nil, "needs Debian's chromium (.ci/run installs it)"))
struct WebMeetingTests {
    @Test("start the week's meeting, record attendees, a decision and an action item, finish; the item is in its owner's inbox until done")
    func meetingEndToEnd() async throws {
        let w = try await WebWorkspace.make(leads: 300)
        defer { w.remove() }
        var q = ListQuery()
        q.equals["email"] = .text(w.people[.sales]!.email)
        let rep = try #require(try await w.store.list(.users, q).records.first)
        let shots = ProcessInfo.processInfo.environment["SMARKETING_SCREENSHOTS"]
        try await w.app().test(.live) { client in
            let base = "http://127.0.0.1:\(client.port!)"
            let browser = try Browser()
            defer { browser.quit() }
            let tab = try await browser.tab()
            _ = try await WebBrowserTests.signIn(tab, base: base, w.people[.marketing]!)
            try await tab.open(base + "/meetings?week=2025-W51")
            #expect(try await tab.text("h1") == "Weekly sync 2025-W51")
            #expect(try await tab.text(".agenda").contains("MQLs"))
            #expect(try await tab.eval("document.querySelectorAll('.agenda table tbody tr').length") as? Int ?? 0 >= 9)
            try await tab.clickAndWait("button[data-action='start-meeting']")
            let landed = try await tab.path
            let mainText = try await tab.text("main")
            #expect(landed.hasPrefix("/meetings/1?"), "\(landed): \(mainText.prefix(400))")
            #expect(try await tab.text(".flash").contains("Meeting opened for 2025-W51"))

            try await tab.eval("document.querySelector('input[name=\"attendee_u-admin\"]').checked = true; 0")
            try await tab.clickAndWait("button[data-action='attendees']")
            #expect(try await tab.text(".flash").contains("attendee(s) recorded"))
            try await tab.fill(["textarea[name=decision]": "Pause <campaign> X until the new page is live"])
            try await tab.clickAndWait("button[data-action='decide']")
            try await tab.fill(["input[name=title]": "Call back the demo requests", "select[name=owner]": rep.id, "input[name=due]": "2025-12-30"])
            try await tab.clickAndWait("button[data-action='add-item']")
            let added = try await tab.text(".flash")
            #expect(added.contains("due 2025-12-30"), "\(added)")
            // A due day five years out is refused beside the form, nothing stored.
            try await tab.fill(["input[name=title]": "Too far", "select[name=owner]": rep.id, "input[name=due]": "2035-01-01"])
            try await tab.clickAndWait("button[data-action='add-item']")
            #expect(try await tab.text(".flash.bad").contains("five years"))
            #expect(try await w.store.actionItems(ActionItemQuery()).count == 1)
            #expect(try await tab.text(".minutes").contains("Pause <campaign> X until the new page is live"))
            if let shots { try await tab.screenshot(to: "\(shots)/meeting.png") }
            try await tab.clickAndWait("button[data-action='finish']")
            #expect(try await tab.text(".flash").contains("Meeting finished with 1 decision(s)"))
            #expect(try await tab.eval("document.querySelectorAll('.meeting-forms').length") as? Int == 0)
            let md = try await tab.eval("fetch('/meetings/1/minutes/md').then(r => r.text())") as? String ?? ""
            #expect(md.hasPrefix("# Weekly sync 2025-W51: Weekly sync") && md.contains("- Pause <campaign> X"), "\(md.prefix(200))")
            #expect(tab.takeProblems().isEmpty)

            // The owner sees the item in the inbox (overdue on the fixed clock's 2026-01-01) and marks it done.
            let repTab = try await browser.tab()
            _ = try await WebBrowserTests.signIn(repTab, base: base, w.people[.sales]!)
            try await repTab.open(base + "/inbox")
            let item = try await repTab.text("#ai-h + .action-items")
            #expect(item.contains("Call back the demo requests") && item.contains("overdue"), "\(item)")
            try await repTab.clickAndWait(".action-items button[data-action='done']")
            let flash = try await repTab.text(".flash")
            #expect(try await repTab.path.hasPrefix("/inbox?") && flash.contains("is done"), "\(flash)")
            #expect(try await w.store.actionItems(ActionItemQuery(status: .open)).isEmpty)
            #expect(repTab.takeProblems().isEmpty)

            // Viewers read the minutes but have no forms.
            let viewerTab = try await browser.tab()
            _ = try await WebBrowserTests.signIn(viewerTab, base: base, w.people[.viewer]!)
            try await viewerTab.open(base + "/meetings")
            #expect(try await viewerTab.eval("document.querySelectorAll('button[data-action=\"start-meeting\"]').length") as? Int == 0)
            try await viewerTab.open(base + "/meetings/1")
            #expect(try await viewerTab.text(".minutes").contains("Call back the demo requests"))
        }
    }

    @Test("a rep accepts a lead and rates it from the inbox in one click; marketing sees the rating on the Lead quality page and the lead page")
    func rateFromInbox() async throws {
        let w = try await WebWorkspace.make(leads: 300)
        defer { w.remove() }
        let shots = ProcessInfo.processInfo.environment["SMARKETING_SCREENSHOTS"]
        try await w.app().test(.live) { client in
            let base = "http://127.0.0.1:\(client.port!)"
            let browser = try Browser()
            defer { browser.quit() }
            let tab = try await browser.tab()
            _ = try await WebBrowserTests.signIn(tab, base: base, w.people[.sales]!)
            try await tab.open(base + "/inbox")
            #expect(try await tab.eval("document.querySelectorAll('form.rate').length") as? Int == 0, "only accepted leads are rated")
            try await tab.clickAndWait("button[data-action='accept']")
            #expect(try await tab.eval("document.querySelectorAll('form.rate').length") as? Int ?? 0 >= 1)
            try await tab.eval("document.querySelector('form.rate select[name=reason]').value = 'bad:too_early'; 0")
            try await tab.clickAndWait("form.rate button[data-action='rate-bad']")
            let flash = try await tab.text(".flash")
            #expect(flash.contains("not a good lead"), "\(flash)")
            // A reason of the other kind is refused, nothing stored beyond the first rating.
            try await tab.eval("document.querySelector('form.rate select[name=reason]').value = 'good:right_fit'; 0")
            try await tab.clickAndWait("form.rate button[data-action='rate-bad']")
            #expect(try await tab.text(".flash.bad").contains("is a reason for a good lead"))
            #expect(tab.takeProblems().isEmpty)

            let marketing = try await browser.tab()
            _ = try await WebBrowserTests.signIn(marketing, base: base, w.people[.marketing]!)
            try await marketing.open(base + "/lead-quality?from=2025-10-01&to=2026-04-01&by=channel")
            let total = try await marketing.text("#lead-quality tr.total")
            #expect(total.contains("Too early, just researching (1)"), "\(total)")
            #expect(try await marketing.eval("document.querySelectorAll('#lead-quality tbody tr[data-key]').length") as? Int == 1)
            if let shots { try await marketing.screenshot(to: "\(shots)/lead-quality.png") }
            let ratedContact = try #require(try await w.store.ratedLeads().first?.contactID)
            try await marketing.open(base + "/leads/" + ratedContact)
            #expect(try await marketing.text("main").contains("rated not good (Too early, just researching)"))
            #expect(try await marketing.eval("document.querySelectorAll('form.rate').length") as? Int == 0, "marketing reads ratings, sales gives them")
            #expect(marketing.takeProblems().isEmpty)
        }
    }

    @Test("the pipeline review shows the quarter's forecast with its interval, forecast against actual week by week, and deals without a next step")
    func pipelineForecast() async throws {
        let w = try await WebWorkspace.make(leads: 800)
        defer { w.remove() }
        let shots = ProcessInfo.processInfo.environment["SMARKETING_SCREENSHOTS"]
        let expected = try await ForecastReads.current(w.store, now: WebWorkspace.clock.now())
        try await w.app().test(.live) { client in
            let base = "http://127.0.0.1:\(client.port!)"
            let browser = try Browser()
            defer { browser.quit() }
            let tab = try await browser.tab()
            _ = try await WebBrowserTests.signIn(tab, base: base, w.people[.sales]!)
            try await tab.open(base + "/pipeline")
            #expect(try await tab.text("#forecast-h").contains("2026-01-01 – 2026-03-31"))
            let shown = try await tab.text("[data-forecast]")
            #expect(!shown.isEmpty && shown != "—", "\(shown)")
            // On the quarter's first day this quarter has one week to show (a sentence), last quarter all of them.
            #expect(try await tab.eval("document.querySelectorAll('svg.chart.forecast polygon.band').length") as? Int == 1)
            #expect(try await tab.eval("document.querySelectorAll('svg.chart.forecast circle.forecast-dot').length") as? Int ?? 0 >= 13)
            #expect(try await tab.text("#forecast").contains("This quarter began less than a week ago"))
            #expect(expected.openDeals > 0)
            let quiet = try await tab.eval("document.querySelectorAll('#quiet-deals tbody tr').length") as? Int ?? 0
            #expect(quiet > 0 && quiet <= 50)
            if let shots { try await tab.screenshot(to: "\(shots)/pipeline.png") }
            #expect(tab.takeProblems().isEmpty)
        }
    }

    @Test("a campaign page carries the joint review: lead quality, notes of both teams, a decision")
    func campaignReview() async throws {
        let w = try await WebWorkspace.make(leads: 300)
        defer { w.remove() }
        var q = ListQuery()
        q.limit = 1
        let campaign = try #require(try await w.store.list(.campaigns, q).records.first)
        try await w.app().test(.live) { client in
            let base = "http://127.0.0.1:\(client.port!)"
            let browser = try Browser()
            defer { browser.quit() }
            let tab = try await browser.tab()
            _ = try await WebBrowserTests.signIn(tab, base: base, w.people[.marketing]!)
            try await tab.open(base + "/campaigns/" + campaign.id)
            #expect(try await tab.text("#review").contains("Lead quality"))
            try await tab.fill(["#review textarea[name=text]": "Cost per MQL doubled <since> the new creatives", "#review select[name=decision]": "change"])
            try await tab.clickAndWait("#review button[data-action='note']")
            #expect(try await tab.text(".flash").contains("the decision is now “change”"))
            #expect(try await tab.eval("document.querySelector('#review [data-decision]')?.dataset.decision") as? String == "change")
            #expect(try await tab.text("#review .notes").contains("Cost per MQL doubled <since> the new creatives"))
            #expect(tab.takeProblems().isEmpty)
            let viewer = try await browser.tab()
            _ = try await WebBrowserTests.signIn(viewer, base: base, w.people[.viewer]!)
            try await viewer.open(base + "/campaigns/" + campaign.id)
            #expect(try await viewer.eval("document.querySelectorAll('#review form').length") as? Int == 0)
            #expect(try await viewer.text("#review").contains("Cost per MQL doubled"))
        }
    }
}
