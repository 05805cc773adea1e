import Foundation
import SmarketingCore
import Testing

@Suite("Weekly sync: weeks, periods, backlog, minutes text")
struct WeeklySyncTests {
    @Test("ISO weeks: parsing, Mondays, 53-week years, Sunday starts, stepping")
    func weeks() throws {
        let w49 = try #require(AgendaWeek.parse("2026-W49"))
        #expect(w49.monday == LocalDate(year: 2026, month: 11, day: 30) && w49.description == "2026-W49")
        #expect(AgendaWeek.parse("2026-w01")?.monday == LocalDate(year: 2025, month: 12, day: 29))
        #expect(AgendaWeek.parse("2026-W53") != nil && AgendaWeek.parse("2025-W53") == nil && AgendaWeek.parse("2020-W53") != nil)
        for bad in ["", "2026", "2026-W", "2026-W00", "2026-W54", "26-W10", "2026-W1", "1899-W10", "2200-W01", "2026-W+1", "２０２６-W01", "2026-X10"] {
            #expect(AgendaWeek.parse(bad) == nil, "\(bad)")
        }
        #expect(AgendaWeek.weeks(in: 2026) == 53 && AgendaWeek.weeks(in: 2025) == 52 && AgendaWeek.weeks(in: 2015) == 53)
        // Every day of a range belongs to the week whose period holds it, Monday or Sunday start.
        var d = LocalDate(year: 2024, month: 12, day: 20)
        while d < LocalDate(year: 2027, month: 1, day: 15) {
            for sunday in [false, true] {
                let w = AgendaWeek.containing(d, sundayStart: sunday)
                let p = w.period(sundayStart: sunday)
                #expect(p.from <= d && d < p.to, "\(d.text) in \(w) (\(sunday))")
                #expect(p.from.weekday == (sunday ? 6 : 0))
            }
            d = d.adding(days: 1)
        }
        #expect(AgendaWeek.containing(LocalDate(year: 2026, month: 12, day: 6), sundayStart: true).description == "2026-W50")
        #expect(AgendaWeek.containing(LocalDate(year: 2026, month: 12, day: 6), sundayStart: false).description == "2026-W49")
        #expect(w49.adding(weeks: 5).description == "2027-W01" && w49.adding(weeks: -49).description == "2025-W52")
    }

    @Test("the agenda's periods follow the fiscal year and the week start")
    func periods() throws {
        let week = try #require(AgendaWeek.parse("2026-W14"))  // Mon 30 Mar – Sun 5 Apr 2026
        let calendar = WeeklyAgenda.periods(week, settings: WorkspaceSettings())
        #expect(calendar.week == KPIPeriod(from: LocalDate(year: 2026, month: 3, day: 30), to: LocalDate(year: 2026, month: 4, day: 6)))
        #expect(calendar.previousWeek == KPIPeriod(from: LocalDate(year: 2026, month: 3, day: 23), to: LocalDate(year: 2026, month: 3, day: 30)))
        // The week ends in April: Q2 to date, Q1 before it.
        #expect(calendar.quarterToDate == KPIPeriod(from: LocalDate(year: 2026, month: 4, day: 1), to: LocalDate(year: 2026, month: 4, day: 6)))
        #expect(calendar.quarter == KPIPeriod(from: LocalDate(year: 2026, month: 4, day: 1), to: LocalDate(year: 2026, month: 7, day: 1)))
        #expect(calendar.lastQuarter == KPIPeriod(from: LocalDate(year: 2026, month: 1, day: 1), to: LocalDate(year: 2026, month: 4, day: 1)))
        // A fiscal year from February: quarters Feb–Apr, May–Jul, …; weeks from Sunday.
        let fiscal = WeeklyAgenda.periods(week, settings: WorkspaceSettings(stored: ["workspace.fiscal_year_start_month": "2", "workspace.week_start": "sunday"]))
        #expect(fiscal.week.from == LocalDate(year: 2026, month: 3, day: 29))
        #expect(fiscal.quarter == KPIPeriod(from: LocalDate(year: 2026, month: 2, day: 1), to: LocalDate(year: 2026, month: 5, day: 1)))
        #expect(fiscal.lastQuarter == KPIPeriod(from: LocalDate(year: 2025, month: 11, day: 1), to: LocalDate(year: 2026, month: 2, day: 1)))
        let jan = WorkspaceSettings(stored: ["workspace.fiscal_year_start_month": "11"]).fiscalQuarter(containing: LocalDate(year: 2026, month: 1, day: 15))
        #expect(jan == KPIPeriod(from: LocalDate(year: 2025, month: 11, day: 1), to: LocalDate(year: 2026, month: 2, day: 1)))
    }

    @Test("the backlog counts per owner, most unanswered first")
    func backlog() {
        let t = Timestamp(seconds: 1_000_000)
        let rows = WeeklyAgenda.backlog(
            [
                .init(ownerID: "b", answered: false, breached: true, assignedAt: t.adding(milliseconds: 5)),
                .init(ownerID: "b", answered: false, breached: false, assignedAt: t),
                .init(ownerID: "a", answered: true, breached: false, assignedAt: t),
                .init(ownerID: "c", answered: false, breached: false, assignedAt: nil),
                .init(ownerID: "c", answered: true, breached: true, assignedAt: t),
            ],
            names: ["b": "Bea"]
        )
        #expect(rows.map(\.ownerID) == ["b", "c", "a"])
        #expect(rows[0].ownerName == "Bea" && rows[0].open == 2 && rows[0].unanswered == 2 && rows[0].breached == 1 && rows[0].oldestUnansweredAt == t)
        #expect(rows[1].unanswered == 1 && rows[1].breached == 1 && rows[1].oldestUnansweredAt == nil && rows[2].unanswered == 0)
    }

    @Test("meeting inputs are checked at the edge; due days within a year back and five ahead")
    func inputs() {
        let today = LocalDate(year: 2026, month: 12, day: 5)
        #expect(MeetingRules.due("2026-12-12", today: today) == .success(LocalDate(year: 2026, month: 12, day: 12)))
        for bad in ["2031-12-31", "2025-12-01", "2026-13-01", "tomorrow", "", "2026-12-5"] {
            guard case .failure = MeetingRules.due(bad, today: today) else {
                Issue.record("\(bad) was taken as a due day")
                continue
            }
        }
        #expect(MeetingRules.text("  Pause X \n", field: "title", max: 200) == .success("Pause X"))
        for bad in ["", "   ", String(repeating: "x", count: 201), "a\u{7}b", "a\u{0}b"] {
            guard case .failure = MeetingRules.text(bad, field: "title", max: 200) else {
                Issue.record("\(bad.debugDescription) was taken as a title")
                continue
            }
        }
    }

    @Test("minutes as Markdown and HTML: the same content, cells and text escaped")
    func text() {
        let blocks: [AgendaText.Block] = [
            .heading(1, "Weekly sync <b>"), .paragraph("a & b"), .list(["x | y", "line\nbreak"]), .table(["k", "v"], [["a|b", "<i>"]]),
        ]
        let md = AgendaText.markdown(blocks)
        #expect(md == "# Weekly sync <b>\n\na & b\n\n- x | y\n- line break\n\n| k | v |\n| --- | --- |\n| a\\|b | <i> |\n\n")
        let html = AgendaText.html(blocks)
        #expect(html.contains("<h1>Weekly sync &lt;b&gt;</h1>") && html.contains("<p>a &amp; b</p>") && html.contains("<td>&lt;i&gt;</td>"))
        #expect(!html.contains("<b>") && !html.contains("<i>"))
        #expect(AgendaText.value(1234567.0, "money", "EUR") == "1,234,567 EUR" && AgendaText.value(0.4123, "rate", "EUR") == "41.2 %")
        #expect(AgendaText.value(-2.5, "count", "") == "-2.5" && AgendaText.value(nil, "count", "") == "–" && AgendaText.value(.nan, "hours", "") == "–")
        #expect(AgendaText.value(3.25, "hours", "") == "3.2 h" || AgendaText.value(3.25, "hours", "") == "3.3 h")
    }

    @Test("only changes that alter how figures are made become notes")
    func changeNotes() {
        let t = Timestamp(seconds: 1)
        #expect(ChangeNote.from(action: "settings.set", resource: "settings", recordID: "kpi.sla_hours", at: t, by: "u", detail: "24 → 8")?.text == "kpi.sla_hours changed: 24 → 8")
        #expect(ChangeNote.from(action: "apply", resource: "scoring_models", recordID: "4", at: t, by: "u", detail: "{}")?.kind == "scoring")
        #expect(ChangeNote.from(action: "update", resource: "targets", recordID: "2026-01|mqls|", at: t, by: "u", detail: "{}")?.text == "target 2026-01|mqls| updated")
        #expect(ChangeNote.from(action: "update", resource: "contacts", recordID: "ct-1", at: t, by: "u", detail: "{}") == nil)
        #expect(ChangeNote.from(action: "create", resource: "meetings", recordID: "1", at: t, by: "u", detail: "{}") == nil)
    }
}

@Suite("Lead-quality ratings: reasons, the report, the backtest replay")
struct LeadQualityTests {
    @Test("a reason must go with its rating; unknown reasons are named")
    func reasons() {
        #expect(LeadRatingReasons.check("right_fit", for: .good) == .success("right_fit"))
        #expect(LeadRatingReasons.check(nil, for: .bad) == .success(nil) && LeadRatingReasons.check("", for: .bad) == .success(nil))
        #expect(LeadRatingReasons.check("other", for: .bad) == .success("other"))
        guard case .failure(let p) = LeadRatingReasons.check("right_fit", for: .bad) else {
            Issue.record("a good reason on a bad rating")
            return
        }
        #expect(p.description.contains("no_budget"))
        guard case .failure = LeadRatingReasons.check("colour", for: .good) else {
            Issue.record("an unknown reason")
            return
        }
    }

    @Test("the report counts answered, accepted, rejected, rated and good share per cut; content counts a lead once per asset")
    func report() throws {
        let utc = try #require(TimeZone(identifier: "UTC"))
        let jan = Timestamp(seconds: 1_767_225_600)  // 2026-01-01
        func row(_ id: Int64, _ campaign: String?, _ status: HandoverStatus, _ rating: LeadRatingValue?, reason: String? = nil, content: [String] = [], days: Int64 = 0) -> LeadFeedback {
            LeadFeedback(
                handoverID: id, campaign: campaign, channel: "email", persona: nil, content: content, status: status,
                rejectReason: status == .rejected ? "timing" : nil, rating: rating, ratingReason: reason, answeredAt: jan.adding(milliseconds: days * 86_400_000)
            )
        }
        let rows = [
            row(1, "a", .accepted, .good, content: ["x", "y", "x"]), row(2, "a", .rejected, .bad, reason: "no_budget", content: ["x"]),
            row(3, "b", .qualified, nil, days: 40), row(4, nil, .rejected, .bad, reason: "no_budget"), row(5, "b", .closed, .good, days: 40),
        ]
        let period = ReportPeriod(from: "2026-01-01", to: "2026-04-01", timeZone: "UTC")
        let r = LeadQualityReport.build(rows, by: .campaign, period: period, zone: utc, names: ["a": "Spring"])
        #expect(r.total.answered == 5 && r.total.accepted == 2 && r.total.rejected == 2 && r.total.rated == 4 && r.total.good == 2 && r.total.goodShare == 0.5)
        #expect(r.total.rejectionRate == 0.5 && r.total.badReasons.first?.reason == "no_budget" && r.total.badReasons.first?.count == 2)
        #expect(r.groups.map(\.key) == ["a", "b", "(none)"] && r.groups.first?.name == "Spring")
        let content = LeadQualityReport.build(rows, by: .content, period: period, zone: utc)
        #expect(content.groups.first { $0.key == "x" }?.answered == 2 && content.groups.first { $0.key == "y" }?.answered == 1)
        #expect(content.groups.first { $0.key == "(none)" }?.answered == 3)
        let months = LeadQualityReport.build(rows, by: .month, period: period, zone: utc)
        #expect(months.groups.map(\.key) == ["2026-01", "2026-02"])
    }

    @Test("the backtest replay: a lead is sent when the model's MQL rule fires by its handover")
    func backtest() throws {
        let day: Int64 = 86_400_000
        let model = ScoringModel(
            fit: FitModel(rules: [FitRule(id: "de", attribute: "contact.country", condition: .oneOf(["DE"]), points: 10)], bands: GradeBands([("A", 10), ("B", 5)])),
            engagement: EngagementModel(rules: [EngagementRule(id: "form", points: 60, types: ["form_submit"])], halfLife: 30 * day),
            mql: try MQLRule.parse("engagement >= 50").get(),
            mqlText: "engagement >= 50"
        )
        let scorer = Scorer(model: model, version: 1, personas: [])
        let t = Timestamp(seconds: 1_767_225_600)
        func lead(_ id: String, formAfterHours: Int64?, handoverHours: Int64, good: Bool) -> RatingBacktest.Rated {
            let touches = formAfterHours.map { [TouchFacts(id: "f-" + id, at: t.adding(milliseconds: $0 * 3_600_000), type: "form_submit", properties: [:])] } ?? []
            return RatingBacktest.Rated(
                contact: BacktestContact(id: id, profile: ContactProfile(contact: ["country": "DE"]), start: t, touches: touches, target: nil),
                handedOverAt: t.adding(milliseconds: handoverHours * 3_600_000),
                good: good
            )
        }
        let r = RatingBacktest.run(
            [
                lead("sent-good", formAfterHours: 1, handoverHours: 2, good: true),
                lead("sent-bad", formAfterHours: 1, handoverHours: 2, good: false),
                lead("late-form-bad", formAfterHours: 5, handoverHours: 2, good: false),
                lead("never-good", formAfterHours: nil, handoverHours: 2, good: true),
            ],
            scorer: scorer
        )
        #expect(r.rated == 4 && r.good == 2 && r.bad == 2 && r.sentGood == 1 && r.sentBad == 1 && r.goodMissed == 1 && r.badShareOfSent == 0.5)
    }
}

@Suite("KPIs as code: formulas and statuses")
struct KPIConfigTests {
    @Test("formulas read figures by path; a missing figure or a zero denominator gives no value")
    func formulas() {
        let f = ["a": 3.0, "b": 4.0, "z": 0.0]
        #expect(KPIConfig.evaluate(.value("a"), f) == 3 && KPIConfig.evaluate(.sum(["a", "b"]), f) == 7 && KPIConfig.evaluate(.ratio("a", "b"), f) == 0.75)
        #expect(KPIConfig.evaluate(.ratio("a", "z"), f) == nil && KPIConfig.evaluate(.value("missing"), f) == nil && KPIConfig.evaluate(.sum(["a", "missing"]), f) == nil)
        #expect(KPIConfig.paths(.ratio("a", "b")) == ["a", "b"])
    }

    @Test("green at or past good, red at or past bad, amber between; the direction follows the KPI")
    func statuses() {
        #expect(KPIConfig.status(0.9, good: 0.9, bad: 0.7, higherIsBetter: true) == "green")
        #expect(KPIConfig.status(0.8, good: 0.9, bad: 0.7, higherIsBetter: true) == "amber")
        #expect(KPIConfig.status(0.7, good: 0.9, bad: 0.7, higherIsBetter: true) == "red")
        #expect(KPIConfig.status(3, good: 4, bad: 24, higherIsBetter: false) == "green")
        #expect(KPIConfig.status(24, good: 4, bad: 24, higherIsBetter: false) == "red")
        #expect(KPIConfig.status(10, good: 4, bad: 24, higherIsBetter: false) == "amber")
        #expect(KPIConfig.status(nil, good: 4, bad: 24, higherIsBetter: false) == nil && KPIConfig.status(5, good: nil, bad: nil, higherIsBetter: true) == nil)
        #expect(KPIConfig.status(5, good: nil, bad: 6, higherIsBetter: true) == "red" && KPIConfig.status(7, good: nil, bad: 6, higherIsBetter: true) == "amber")
    }
}

@Suite("Agenda numbers at the extremes")
struct AgendaNumberTests {
    @Test("huge, tiny, negative and non-finite values format without trapping")
    func extremes() {
        #expect(AgendaText.value(1e300, "count", "") == "–" && AgendaText.value(-1e300, "money", "EUR") == "– EUR")
        #expect(AgendaText.value(Double.greatestFiniteMagnitude, "count", "") == "–" && AgendaText.value(.infinity, "count", "") == "–")
        #expect(AgendaText.value(999_999_999_999_999, "count", "") == "999,999,999,999,999" && AgendaText.value(1e15, "count", "") == "–")
        #expect(AgendaText.value(123_456_789_012.34, "count", "") == "123,456,789,012.3")
        #expect(AgendaText.value(-0.04, "count", "") == "0" && AgendaText.value(-0.06, "count", "") == "-0.1" && AgendaText.value(0.95, "count", "") == "1")
    }
}
