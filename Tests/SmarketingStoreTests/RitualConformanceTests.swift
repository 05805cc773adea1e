import Foundation
import SmarketingConnectors
import SmarketingCore
import SmarketingStore
import Testing

@Suite("Store conformance: the weekly sync (meetings, action items, agenda)")
struct RitualConformanceTests {
    @Test("a meeting records attendees and decisions, freezes its agenda when finished and queues its minutes", arguments: Backend.allCases)
    func meetings(backend: Backend) async throws {
        let demo = BundleConformanceTests.tempDir("ritual-demo")
        defer { try? FileManager.default.removeItem(atPath: demo) }
        _ = try DemoWorkspace(leads: 200, seed: 7).write(to: demo)
        let sut = try await backend.makeRoles()
        let store = sut.store
        #expect(try await BundleConformanceTests.importDir(store, demo).committed)
        let hook = try await store.createWebhook(
            url: "http://127.0.0.1:9/slack", events: ["meeting.finished"], format: "slack", secret: "s3cret-s3cret-s3cret", actor: tester, at: t0
        )
        let week = try #require(AgendaWeek.parse("2025-W38"))

        // Attendees must be users; nothing is written when one is not.
        await #expect(throws: StoreError.self) {
            _ = try await store.createMeeting(week: week, title: "Weekly sync", attendees: ["u-admin", "nobody"], actor: tester, at: t0)
        }
        #expect(try await store.meetings(limit: 10, before: nil).isEmpty)
        await #expect(throws: StoreError.self) { _ = try await store.createMeeting(week: week, title: "  ", attendees: [], actor: tester, at: t0) }

        let m = try await store.createMeeting(week: week, title: " Weekly sync ", attendees: ["u-admin", "u-mkt-mgr", "u-admin"], actor: tester, at: t0)
        #expect(m.title == "Weekly sync" && m.attendees == ["u-admin", "u-mkt-mgr"] && m.status == .open && m.week == "2025-W38")
        _ = try await store.changeMeeting(id: m.id, MeetingChange(decision: "Pause campaign X"), actor: tester, at: t0)
        let two = try await store.changeMeeting(id: m.id, MeetingChange(attendees: ["u-sales-mgr"], decision: "SLA stays 24 h", notes: "a | b"), actor: tester, at: t0)
        #expect(two.decisions == ["Pause campaign X", "SLA stays 24 h"] && two.attendees == ["u-sales-mgr"] && two.notes == "a | b")
        #expect(try await sut.reopen().meeting(id: m.id) == two)

        // Items: the owner must be a user; listing is earliest due first; overdue is against the day.
        let today = LocalDate(year: 2025, month: 9, day: 20)
        await #expect(throws: StoreError.self) {
            _ = try await store.createActionItem(ActionItemDraft(title: "x", ownerID: "ghost", due: today, meetingID: m.id), actor: tester, at: t0)
        }
        let late = try await store.createActionItem(ActionItemDraft(title: "Fix the form", ownerID: "u-sdr-1", due: LocalDate(year: 2025, month: 9, day: 18), meetingID: m.id), actor: tester, at: t0)
        let soon = try await store.createActionItem(ActionItemDraft(title: "Call back", ownerID: "u-sdr-1", due: LocalDate(year: 2025, month: 9, day: 25), meetingID: nil), actor: tester, at: t0)
        let other = try await store.createActionItem(ActionItemDraft(title: "Report", ownerID: "u-mkt-1", due: LocalDate(year: 2025, month: 9, day: 19), meetingID: m.id), actor: tester, at: t0)
        #expect(late.ownerName != nil && late.status == .open && late.meetingID == m.id)
        #expect(try await store.actionItems(ActionItemQuery(ownerID: "u-sdr-1", status: .open)).map(\.id) == [late.id, soon.id])
        #expect(try await store.actionItems(ActionItemQuery(meetingID: m.id)).map(\.id) == [late.id, other.id])
        #expect(try await store.actionItems(ActionItemQuery(status: .open, dueBefore: today)).map(\.id) == [late.id, other.id])
        #expect(late.isOverdue(today: today) && !soon.isOverdue(today: today))
        let done = try await store.setActionItem(id: other.id, status: .done, actor: tester, at: t0.adding(milliseconds: 5))
        #expect(done.status == .done && done.doneBy == "tester" && done.doneAt == t0.adding(milliseconds: 5))
        #expect(try await store.actionItems(ActionItemQuery(status: .open)).map(\.id) == [late.id, soon.id])
        await #expect(throws: StoreError.self) { _ = try await store.setActionItem(id: 999_999, status: .done, actor: tester, at: t0) }

        // The agenda's figures are the KPI set's for the same periods; open items carry over.
        let settings = try await store.workspaceSettings().settings
        let agenda = try await WeeklySync.agenda(store, week: week, now: t0)
        let periods = WeeklyAgenda.periods(week, settings: settings)
        #expect(periods.week == KPIPeriod(from: LocalDate(year: 2025, month: 9, day: 15), to: LocalDate(year: 2025, month: 9, day: 22)))
        #expect(periods.quarterToDate == KPIPeriod(from: LocalDate(year: 2025, month: 7, day: 1), to: LocalDate(year: 2025, month: 9, day: 22)))
        let w = try await store.kpis(KPIQuery(period: periods.week)).total
        let q = try await store.kpis(KPIQuery(period: periods.quarterToDate)).total.current
        let last = try await store.kpis(KPIQuery(period: periods.lastQuarter)).total.current
        func row(_ key: String) throws -> WeeklyAgenda.KPIRow { try #require(agenda.kpis.first { $0.key == key }) }
        let mqls = try row("mqls")
        let won = try row("won_revenue")
        let winRate = try row("win_rate")
        let sla = try row("sla_compliance")
        #expect(mqls.week == Double(w.current.mqlVolume.mqls) && mqls.previousWeek == Double(w.previous.mqlVolume.mqls))
        #expect(mqls.quarterToDate == Double(q.mqlVolume.mqls) && mqls.lastQuarter == Double(last.mqlVolume.mqls))
        #expect(won.quarterToDate == q.dealVelocity.wonRevenue && winRate.week == w.current.winRate.rate)
        #expect(sla.quarterToDate == q.leadResponseTime.slaCompliance)
        #expect(mqls.quarterToDate ?? 0 > 0, "the demo has MQLs in the quarter")
        #expect(agenda.actionItems.map(\.id) == [late.id, soon.id])
        #expect(agenda.rejections == w.current.rejectionReasons)

        // Finishing freezes the agenda, queues the minutes for the subscription, and closes the record.
        let finished = try await WeeklySync.finish(store, id: m.id, actor: tester, now: t0.adding(milliseconds: 10))
        #expect(finished.status == .finished && finished.agenda == agenda.with(asOf: t0.adding(milliseconds: 10)))
        let reread = try #require(try await sut.reopen().meeting(id: m.id))
        #expect(reread.agenda?.kpis == agenda.kpis && reread.finishedAt == t0.adding(milliseconds: 10))
        let queued = try await store.dueDeliveries(now: t0.adding(milliseconds: 20), perSubscription: 10).filter { $0.subscriptionID == hook.id }
        #expect(queued.count == 1 && queued.first?.eventType == "meeting.finished")
        #expect(queued.first?.payload.contains("Pause campaign X") == true && queued.first?.payload.contains("Weekly sync 2025-W38") == true)
        do {
            _ = try await store.changeMeeting(id: m.id, MeetingChange(decision: "too late"), actor: tester, at: t0)
            Issue.record("a finished meeting took a decision")
        } catch let e as StoreError {
            guard case .conflict = e else { throw e }
        }
        await #expect(throws: StoreError.self) {
            _ = try await store.createActionItem(ActionItemDraft(title: "late", ownerID: "u-admin", due: today, meetingID: m.id), actor: tester, at: t0)
        }
        await #expect(throws: StoreError.self) { _ = try await WeeklySync.finish(store, id: m.id, actor: tester, now: t0) }

        // Every step is audited; the next meeting's agenda still lists the open items.
        let audit = try await store.audit(limit: 100, before: nil)
        #expect(audit.filter { $0.resource == "meetings" }.map(\.action).sorted() == ["create", "finish", "update", "update"])
        #expect(audit.filter { $0.resource == "action_items" }.map(\.action).sorted() == ["create", "create", "create", "done"])
        let next = try await WeeklySync.agenda(store, week: week.adding(weeks: 1), now: t0)
        #expect(next.actionItems.map(\.id) == [late.id, soon.id] && next.week == "2025-W39")
    }

    @Test("changes that alter the figures are notes on the agenda; others are not", arguments: Backend.allCases)
    func changeNotes(backend: Backend) async throws {
        let sut = try await backend.makeRoles()
        let store = sut.store
        _ = try await store.changeSettings(["kpi.sla_hours": "8"], ifVersion: nil, actor: tester, at: t0)
        _ = try await store.changeSettings(["workspace.currency": "EUR"], ifVersion: nil, actor: tester, at: t0.adding(milliseconds: 2_000))
        let notes = try await store.changeNotes(from: t0, to: t0.adding(milliseconds: 1_000), limit: 10)
        #expect(notes.map(\.kind) == ["settings"] && notes.first?.text == "kpi.sla_hours changed: 24 → 8" && notes.first?.by == "tester")
        #expect(try await store.changeNotes(from: t0, to: t0.adding(milliseconds: 3_000), limit: 10).count == 2)
    }
}

@Suite("Store conformance: lead-quality ratings")
struct LeadRatingConformanceTests {
    @Test("sales rates answered leads (replacing, audited); the feedback rows and the report count them per cut; the backtest reads them", arguments: Backend.allCases)
    func ratings(backend: Backend) async throws {
        let sut = try await backend.makeRoles()
        let store = sut.store
        let h = HandoverConformanceTests()
        try await h.workspace(store, contacts: 4)
        let now = h.now
        let a = try await h.mql(store, "c0", at: now)
        let b = try await h.mql(store, "c1", at: now)
        let waiting = try await h.mql(store, "c2", at: now)
        // A lead still waiting for an answer is not rated yet.
        do {
            _ = try await store.rateLead(handoverID: waiting.id, rating: .good, reason: nil, actor: tester, at: now)
            Issue.record("an unanswered handover was rated")
        } catch let e as StoreError {
            guard case .conflict = e else { throw e }
        }
        await #expect(throws: StoreError.self) { _ = try await store.rateLead(handoverID: 999_999, rating: .good, reason: nil, actor: tester, at: now) }
        let later = now.adding(milliseconds: 60_000)
        _ = try await store.actOnHandover(id: a.id, action: .accept, note: nil, actor: tester, at: later)
        _ = try await store.actOnHandover(id: b.id, action: .reject(reason: "timing"), note: nil, actor: tester, at: later)
        // A reason must go with the rating.
        await #expect(throws: StoreError.self) { _ = try await store.rateLead(handoverID: a.id, rating: .good, reason: "no_budget", actor: tester, at: later) }
        let first = try await store.rateLead(handoverID: a.id, rating: .good, reason: "right_fit", actor: tester, at: later)
        #expect(first.contactID == "c0" && first.rating == .good && first.reason == "right_fit")
        _ = try await store.rateLead(handoverID: a.id, rating: .bad, reason: "no_budget", actor: tester, at: later.adding(milliseconds: 1))
        _ = try await store.rateLead(handoverID: b.id, rating: .bad, reason: "too_early", actor: tester, at: later)
        let stored = try await sut.reopen().leadRatings(handoverIDs: [a.id, b.id, waiting.id])
        #expect(stored.count == 2 && stored[a.id]?.rating == .bad && stored[a.id]?.reason == "no_budget" && stored[a.id]?.ratedBy == "tester")
        #expect(try await store.audit(limit: 50, before: nil).filter { $0.action == "rate" }.count == 3)

        let rows = try await store.leadFeedback(from: now, to: later.adding(milliseconds: 10), content: true)
        #expect(Set(rows.map(\.handoverID)) == [a.id, b.id])
        let report = LeadQualityReport.build(rows, by: .campaign, period: ReportPeriod(from: "2026-03-01", to: "2026-04-01", timeZone: "UTC"), zone: TimeZone(identifier: "UTC")!)
        #expect(report.total.answered == 2 && report.total.accepted == 1 && report.total.rejected == 1 && report.total.rated == 2 && report.total.bad == 2)
        #expect(report.groups.map(\.key) == ["cmp1"] && report.total.rejectionReasons.map(\.reason) == ["timing"])
        #expect(report.total.badReasons.map(\.reason) == ["no_budget", "too_early"] && report.total.goodShare == 0)
        // Outside the period nothing counts.
        #expect(try await store.leadFeedback(from: t0, to: now, content: false).isEmpty)
        let rated = try await store.ratedLeads()
        #expect(rated.map(\.contactID).sorted() == ["c0", "c1"] && rated.allSatisfy { !$0.good })
    }
}

@Suite("Demo workspace: the rituals on first start")
struct DemoRitualsTests {
    @Test("serve --demo's seeding: fresh MQLs routed, some answered and rated; three finished weekly syncs with action items", arguments: Backend.allCases)
    func seeding(backend: Backend) async throws {
        let demo = BundleConformanceTests.tempDir("ritual-seed")
        defer { try? FileManager.default.removeItem(atPath: demo) }
        _ = try DemoWorkspace(leads: 300, seed: 5).write(to: demo)
        let sut = try await backend.makeRoles()
        let store = sut.store
        #expect(try await BundleConformanceTests.importDir(store, demo).committed)
        let handover = try HandoverConfigFile.read(DemoWorkspace.handoverConfigText).get()
        _ = try await store.applyHandoverConfig(text: DemoWorkspace.handoverConfigText, config: handover, comment: "demo", actor: tester, at: t0)
        let feedback = try await DemoRituals.seedFeedback(store, now: t0)
        #expect(feedback.handovers == 24 && feedback.rated == 11)
        var q = HandoverQuery()
        q.limit = 100
        let all = try await store.handovers(q, at: t0)
        #expect(all.filter { $0.status == .assigned }.count == 24 - 11 && all.filter { $0.status == .rejected }.count == 4)
        let seeded = try await DemoRituals.seed(store, now: t0)
        #expect(seeded.meetings == 3 && seeded.items == 6)
        let meetings = try await store.meetings(limit: 10, before: nil)
        #expect(meetings.count == 3 && meetings.allSatisfy { $0.status == .finished && !$0.decisions.isEmpty })
        let open = try await store.actionItems(ActionItemQuery(status: .open))
        #expect(open.count == 4)
        #expect(open.contains { $0.isOverdue(today: LocalDate(year: 2026, month: 1, day: 1)) }, "some are overdue on the day the demo starts")
        // The demo's KPI file is examples/kpis.yaml, read the same way.
        let example = try String(contentsOfFile: exampleKPIsPath(), encoding: .utf8)
        #expect(try KPIConfigFile.read(DemoRituals.kpisText).get() == KPIConfigFile.read(example).get())
        #expect(try await store.kpiConfigVersions().count == 1)
        // Owners: the seeded ones are named, the others keep their default team; the agenda names them.
        let owners = try await store.owners()
        #expect(owners.count == OwnedSubjects.all.count)
        let mqlOwner = try #require(owners.first { $0.subject == "kpi.mqls" })
        #expect(mqlOwner.team == "marketing" && mqlOwner.responsible == "u-mkt-mgr" && mqlOwner.responsibleName == "Marta Marketing" && !mqlOwner.isDefault)
        #expect(owners.first { $0.subject == "kpi.romi" }?.isDefault == true)
        let latestID = try #require(meetings.first?.id)
        let frozen = try #require(try await store.meeting(id: latestID)?.agenda)
        #expect(frozen.kpis.first { $0.key == "mqls" }?.owner == "Marketing · Marta Marketing")
        // Changes are checked: unknown subjects, teams and people are refused; "" clears a person.
        for bad in [
            OwnerChange(subject: "kpi.colour", team: "sales"), OwnerChange(subject: "kpi.mqls", team: "finance"),
            OwnerChange(subject: "kpi.mqls", responsible: "ghost"), OwnerChange(subject: "kpi.mqls", informed: ["u-admin", "ghost"]),
        ] {
            await #expect(throws: StoreError.self, "\(bad)") { _ = try await store.setOwner(bad, actor: tester, at: t0) }
        }
        let cleared = try await store.setOwner(OwnerChange(subject: "kpi.mqls", team: "revops", responsible: ""), actor: tester, at: t0)
        #expect(cleared.team == "revops" && cleared.responsible == nil && cleared.accountable == "u-admin")
        #expect(try await sut.reopen().owners().first { $0.subject == "kpi.mqls" } == cleared)
        #expect(try await store.audit(limit: 100, before: nil).contains { $0.action == "owner.set" && $0.recordID == "kpi.mqls" && $0.actor.hasPrefix("tester") })

        // Two campaigns under review, each with a standing decision; notes come back oldest first.
        var cq = ListQuery()
        cq.limit = 2
        let campaigns = try await store.list(.campaigns, cq).records
        let first = try await store.campaignNotes(campaignID: campaigns[0].id)
        let second = try await store.campaignNotes(campaignID: campaigns[1].id)
        #expect(first.count == 2 && CampaignNote.standing(first)?.decision == .continue && first[0].authorName == "Marta Marketing")
        #expect(second.count == 3 && CampaignNote.standing(second)?.decision == .change && second.map(\.createdAt) == second.map(\.createdAt).sorted())
        await #expect(throws: StoreError.self) {
            _ = try await store.addCampaignNote(campaignID: "nope", text: "x", decision: nil, actor: tester, at: t0)
        }
        await #expect(throws: StoreError.self) {
            _ = try await store.addCampaignNote(campaignID: campaigns[0].id, text: " ", decision: nil, actor: tester, at: t0)
        }
    }
}

@Suite("Store conformance: KPIs as code")
struct KPIConfigConformanceTests {
    @Test("kpis.yaml is versioned and audited; a custom KPI equals the same ratio computed from the raw records", arguments: Backend.allCases)
    func customKPIs(backend: Backend) async throws {
        let demo = BundleConformanceTests.tempDir("kpi-config")
        defer { try? FileManager.default.removeItem(atPath: demo) }
        _ = try DemoWorkspace(leads: 400, seed: 9).write(to: demo)
        let sut = try await backend.makeRoles()
        let store = sut.store
        #expect(try await BundleConformanceTests.importDir(store, demo).committed)
        let file = """
            kpis:
              mqls: {target: 120, good: 30, bad: 10, owner: u-mkt-mgr}
            custom:
              webinar_mql_to_opportunity:
                label: MQL to opportunity, webinar
                unit: rate
                ratio: [lead_to_opportunity.mql_cohort.converted, lead_to_opportunity.mql_cohort.population]
                where: {channel: webinar}
              all_spend:
                unit: money
                sum: [cac.marketing_spend, cac.sales_cost]
            """
        // Problems refuse the file whole, with line and column.
        guard case .failure(let p) = KPIConfigFile.read(file.replacingOccurrences(of: "cac.sales_cost", with: "cac.sales_costs")) else {
            Issue.record("a misspelt figure was accepted")
            return
        }
        #expect(p.problems.first?.line == 11 && p.problems.first?.message.contains("cac.sales_cost") == true, "\(p.problems)")
        await #expect(throws: StoreError.self) {
            _ = try await KPIConfigReads.apply(store, text: file.replacingOccurrences(of: "u-mkt-mgr", with: "ghost"), comment: "", actor: tester, at: t0)
        }
        #expect(try await store.kpiConfigVersions().isEmpty)

        let v1 = try await KPIConfigReads.apply(store, text: file, comment: "Q3", actor: tester, at: t0)
        #expect(v1.version == 1)
        #expect(try await store.owners().first { $0.subject == "kpi.mqls" }?.responsible == "u-mkt-mgr")
        #expect(try await store.changeNotes(from: t0, to: t0.adding(milliseconds: 1), limit: 10).map(\.text).contains("KPI file v1 applied"))
        let v2 = try await KPIConfigReads.apply(store, text: file.replacingOccurrences(of: "target: 120", with: "target: 150"), comment: "", actor: tester, at: t0)
        let versions = try await store.kpiConfigVersions()
        #expect(v2.version == 2 && versions.map(\.active) == [true, false])
        let (_, active) = try #require(try await KPIConfigReads.active(store))
        #expect(KPIConfigReads.diff(active, try KPIConfigFile.read(file).get()) == ["kpis.mqls: target 150, good 30, bad 10, owner u-mkt-mgr, compared with previous → target 120, good 30, bad 10, owner u-mkt-mgr, compared with previous"])

        // The custom ratio against the raw records: webinar-sourced contacts that became MQLs in the
        // period, and those of them that reached an opportunity (their own time, else a deal).
        let period = KPIPeriod(from: LocalDate(year: 2025, month: 1, day: 1), to: LocalDate(year: 2025, month: 7, day: 1))
        let values = try await KPIConfigReads.custom(store, period: period)
        let ratio = try #require(values.first { $0.id == "webinar_mql_to_opportunity" })
        var q = ListQuery()
        q.limit = 100_000
        let contacts = try await store.list(.contacts, q).records
        let links = try await store.list(.opportunityContacts, q).records
        let deals = try await store.list(.opportunities, q).records
        var withDeal = Set(links.compactMap { $0["contact_id"].text })
        withDeal.formUnion(deals.compactMap { $0["primary_contact_id"].text })
        let from = period.from.startUTC
        let to = period.to.startUTC
        let cohort = contacts.filter {
            guard let t = $0["became_mql_at"].timestamp else { return false }
            return t >= from && t < to && $0["source_channel"].text == "webinar"
        }
        let converted = cohort.filter { !$0["became_opportunity_at"].isNull || withDeal.contains($0.id) }
        #expect(cohort.count >= 5, "the demo has webinar MQLs in the period")
        #expect(ratio.current == Double(converted.count) / Double(cohort.count), "\(String(describing: ratio.current)) vs \(converted.count)/\(cohort.count)")
        #expect(ratio.filter == "channel=webinar" && ratio.unit == "rate")
        // The sum: spend of both categories from the raw cost lines.
        var cq = ListQuery()
        cq.limit = 1_000
        cq.from = .date(period.from)
        cq.to = .date(period.to)
        var costs: [Record] = []
        repeat {
            let page = try await store.list(.costs, cq)
            costs += page.records
            cq.cursor = page.nextCursor
        } while cq.cursor != nil
        let spend = try #require(values.first { $0.id == "all_spend" }?.current)
        let raw = costs.filter { ["marketing", "sales"].contains($0["category"].text ?? "") }.reduce(0.0) { $0 + ($1["amount"].double ?? 0) }
        #expect(abs(spend - raw) < 0.01, "\(spend) vs \(raw) from \(costs.count) lines")
    }
}

extension WeeklyAgenda {
    func with(asOf t: Timestamp) -> WeeklyAgenda {
        var a = self
        a.asOf = t
        return a
    }
}

/// examples/kpis.yaml of the checkout.
func exampleKPIsPath() -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("examples/kpis.yaml").path
}
