import SmarketingCore
import SmarketingStore

/// The demo workspace's weekly syncs: the last three weeks' meetings, finished with attendees,
/// decisions and action items (some done, one overdue, some still ahead), so the meeting page,
/// the agenda's carried-over items, the inbox and the dashboard show the ritual on first start.
public enum DemoRituals {
    /// Creates the meetings and items through the store's own rules; returns how many of each.
    @discardableResult
    public static func seed(_ store: any FunnelStore, now: Timestamp) async throws -> (meetings: Int, items: Int) {
        let settings = try await store.workspaceSettings().settings
        let current = WeeklySync.currentWeek(settings, now: now)
        let calendar = KPICalendar(timeZone: settings.timeZone)
        let scripts: [(weeksBack: Int, attendees: [String], decisions: [String], items: [(String, String, Int, Bool)])] = [
            (
                3, ["u-admin", "u-mkt-mgr", "u-sales-mgr", "u-mkt-1", "u-sdr-1"],
                [
                    "Webinar leads go to SDRs within 4 business hours; marketing adds the webinar title to the handover note.",
                    "Pause the content-syndication campaign with the lowest MQL→SQL rate until the new landing page is live.",
                ],
                [
                    ("Draft the new landing page for content syndication", "u-mkt-1", 7, true),
                    ("Review the rejection reasons of last month with the SDR team", "u-sales-mgr", 10, true),
                ]
            ),
            (
                2, ["u-admin", "u-mkt-mgr", "u-sales-mgr", "u-sdr-1", "u-sdr-2"],
                [
                    "Raise the MQL threshold for grade C leads by 5 points in the next scoring model (backtest first).",
                    "Sales calls back every demo request the same day; the SLA stays at 24 h for the rest.",
                ],
                [
                    ("Backtest a scoring model with a higher grade-C threshold", "u-mkt-mgr", 9, false),
                    ("Call back every open demo request of last week", "u-sdr-1", 3, false),
                ]
            ),
            (
                1, ["u-admin", "u-mkt-mgr", "u-sales-mgr", "u-mkt-2", "u-ae-1"],
                ["Pipeline review moves to Thursday; AEs bring a next step for every deal older than 30 days."],
                [
                    ("Add a next step to every open deal older than 30 days", "u-ae-1", 6, false),
                    ("Share the ROMI by campaign of the quarter with sales leadership", "u-mkt-2", 12, false),
                ]
            ),
        ]
        var meetings = 0
        var items = 0
        let demo = Actor(userID: "u-admin", role: .admin, via: "demo")
        // The demo's kpis.yaml (examples/kpis.yaml): thresholds, targets and three custom KPIs.
        _ = try await KPIConfigReads.apply(store, text: kpisText, comment: "demo workspace KPIs (examples/kpis.yaml)", actor: demo, at: now)
        // Owners first, so the agendas name who acts on each KPI.
        for (subject, responsible, accountable) in [
            ("step.lead_to_mql", "u-mkt-mgr", "u-admin"), ("step.mql_to_sal", "u-sales-mgr", "u-admin"), ("step.sal_to_sql", "u-sales-mgr", "u-admin"),
            ("kpi.mqls", "u-mkt-mgr", "u-admin"), ("kpi.cost_per_mql", "u-mkt-1", "u-mkt-mgr"), ("kpi.mql_acceptance", "u-sales-mgr", "u-admin"),
            ("kpi.lead_response_time", "u-sales-mgr", "u-admin"), ("kpi.sla_compliance", "u-sales-mgr", "u-admin"), ("kpi.won_revenue", "u-sales-mgr", "u-admin"),
            ("kpi.pipeline_coverage", "u-admin", "u-admin"), ("target.mqls", "u-mkt-mgr", "u-admin"), ("target.revenue", "u-sales-mgr", "u-admin"),
        ] {
            _ = try await store.setOwner(
                OwnerChange(subject: subject, responsible: responsible, accountable: accountable, consulted: ["u-mkt-mgr", "u-sales-mgr"].filter { $0 != responsible }),
                actor: demo,
                at: now
            )
        }
        for s in scripts {
            let week = current.adding(weeks: -s.weeksBack)
            let period = week.period(sundayStart: settings.weekStartsOnSunday)
            // The meeting ran on the week's Tuesday at 10:00 in the workspace's zone.
            let start = calendar.start(ofDay: period.from.adding(days: settings.weekStartsOnSunday ? 2 : 1).daysSinceEpoch).adding(milliseconds: 10 * 3_600_000)
            let at = min(start, now)
            let m = try await store.createMeeting(week: week, title: "Weekly sync", attendees: s.attendees, actor: demo, at: at)
            for d in s.decisions { _ = try await store.changeMeeting(id: m.id, MeetingChange(decision: d), actor: demo, at: at) }
            for (title, owner, days, done) in s.items {
                let due = LocalDate(daysSinceEpoch: calendar.day(at)).adding(days: days)
                let item = try await store.createActionItem(ActionItemDraft(title: title, ownerID: owner, due: due, meetingID: m.id), actor: demo, at: at)
                if done { _ = try await store.setActionItem(id: item.id, status: .done, actor: demo, at: min(at.adding(milliseconds: Int64(days) * 86_400_000), now)) }
                items += 1
            }
            _ = try await WeeklySync.finish(store, id: m.id, actor: demo, now: at.adding(milliseconds: 3_600_000))
            meetings += 1
        }
        // Two campaigns already under review, with a decision each.
        var cq = ListQuery()
        cq.limit = 2
        let campaigns = try await store.list(.campaigns, cq).records
        let threads: [[(String, String, CampaignNote.Decision?)]] = [
            [
                ("u-mkt-mgr", "MQLs up a third since the new landing page; cost per MQL is stable.", nil),
                ("u-sales-mgr", "The leads are good: most are accepted and rated good.", .continue),
            ],
            [
                ("u-mkt-1", "Cost per MQL doubled this quarter.", nil),
                ("u-sdr-1", "Many of these leads are students or too early.", nil),
                ("u-mkt-mgr", "Narrow the targeting to companies above 200 employees and review again in four weeks.", .change),
            ],
        ]
        for (campaign, thread) in zip(campaigns, threads) {
            for (i, (author, text, decision)) in thread.enumerated() {
                let at = now.adding(milliseconds: -Int64(thread.count - i) * 86_400_000)
                _ = try await store.addCampaignNote(campaignID: campaign.id, text: text, decision: decision, actor: Actor(userID: author, role: .marketing, via: "demo"), at: at)
            }
        }
        return (meetings, items)
    }

    /// Fresh MQLs for the reps' inboxes (the demo's history has none waiting), some answered and
    /// rated by sales, so the inbox, the lead pages and the Lead quality page have data.
    /// Returns how many handovers were opened and how many leads rated.
    @discardableResult
    public static func seedFeedback(_ store: any FunnelStore, now: Timestamp) async throws -> (handovers: Int, rated: Int) {
        var q = ListQuery()
        q.equals["lifecycle_stage"] = .text("lead")
        q.sort = "created_at"
        q.descending = true
        q.limit = 24
        let leads = try await store.list(.contacts, q).records
        let system = Actor(userID: "u-admin", role: .admin, via: "demo")
        for (i, c) in leads.enumerated() {
            // Spread over the last two days, so the SLA clocks show every state.
            let at = now.adding(milliseconds: -Int64(i) * 2 * 3_600_000)
            _ = try await store.update(.contacts, id: c.id, fields: ["lifecycle_stage": .text("mql"), "became_mql_at": .timestamp(at)], actor: system, at: at)
        }
        _ = try await store.routeWaitingMQLs(at: now)
        var hq = HandoverQuery()
        hq.openOnly = true
        hq.limit = 100
        var open = try await store.handovers(hq, at: now)
        let reps = open.map(\.ownerID).filter { $0.hasPrefix("u-sdr-") || $0.hasPrefix("u-ae-") }
        let fallback = reps.first ?? "u-sdr-1"
        for h in open where h.status == .queued {
            _ = try await store.reassignHandover(id: h.id, to: fallback, actor: system, at: now)
        }
        open = try await store.handovers(hq, at: now).filter { $0.status == .assigned }.sorted { $0.id < $1.id }
        // Half are answered: accepted or rejected, and rated with a reason.
        let answers: [(HandoverAction?, LeadRatingValue, String)] = [
            (.accept, .good, "right_fit"), (.accept, .good, "real_need"), (.reject(reason: "no_budget"), .bad, "no_budget"),
            (.accept, .bad, "too_early"), (.reject(reason: "student"), .bad, "student_or_competitor"), (.accept, .good, "budget"),
            (.reject(reason: "bad_fit"), .bad, "wrong_persona"), (.accept, .good, "good_timing"), (.reject(reason: "timing"), .bad, "too_early"),
            (.accept, .bad, "wrong_persona"), (.accept, .good, "right_fit"),
        ]
        var rated = 0
        for (h, answer) in zip(open, answers) {
            guard let action = answer.0 else { continue }
            let owner = Actor(userID: h.ownerID, role: .sales, via: "demo")
            _ = try await store.actOnHandover(id: h.id, action: action, note: nil, actor: owner, at: now)
            _ = try await store.rateLead(handoverID: h.id, rating: answer.1, reason: answer.2, actor: owner, at: now)
            rated += 1
        }
        return (leads.count, rated)
    }

    /// examples/kpis.yaml, compiled in (the demo must not depend on the checkout's files).
    public static let kpisText = """
        kpis:
          mqls: {target: 450, good: 35, bad: 25, owner: u-mkt-mgr}
          mql_acceptance: {good: 0.85, bad: 0.7, owner: u-sales-mgr}
          sla_compliance: {good: 0.95, bad: 0.85, owner: u-sales-mgr}
          lead_response_time: {good: 4, bad: 24}
          win_rate: {good: 0.3, bad: 0.2, comparison: previous}
          cost_per_mql: {good: 1500, bad: 2500}
        custom:
          webinar_mql_to_opportunity:
            label: MQL → opportunity, webinar leads
            unit: rate
            ratio: [lead_to_opportunity.mql_cohort.converted, lead_to_opportunity.mql_cohort.population]
            where: {channel: webinar}
            good: 0.35
            bad: 0.2
            owner: u-mkt-mgr
          paid_search_response:
            label: Median response time, paid-search leads
            unit: hours
            value: lead_response_time.median_hours
            where: {channel: paid_search}
            good: 4
            bad: 24
            higher_is_better: false
          total_spend:
            label: Marketing and sales spend
            unit: money
            sum: [cac.marketing_spend, cac.sales_cost]

        """
}
