import Foundation
import SmarketingCore
import Testing

@Suite("Pipeline forecast and its backtest")
struct ForecastTests {
    let day: Int64 = 86_400_000
    let utc = KPICalendar(timeZone: TimeZone(identifier: "UTC")!)

    /// Two years of deals: four a week, each closed 30 days after creation, every other one won (1,000 each).
    func history(until end: Timestamp) -> [ForecastDeal] {
        var deals: [ForecastDeal] = []
        var t = end.adding(milliseconds: -730 * day)
        var i = 0
        while t.adding(milliseconds: 30 * day) < end {
            for _ in 0..<4 {
                deals.append(ForecastDeal(id: "d\(i)", createdAt: t, closedAt: t.adding(milliseconds: 30 * day), won: i % 2 == 0, amount: 1_000, segment: "smb", ownerID: nil, stage: nil))
                i += 1
            }
            t = t.adding(milliseconds: 7 * day)
        }
        return deals
    }

    @Test("open deals count at their age's win chance from the history; won so far is exact; the interval holds the forecast")
    func forecast() throws {
        let quarter = KPIPeriod(from: LocalDate(year: 2026, month: 1, day: 1), to: LocalDate(year: 2026, month: 4, day: 1))
        let asOf = utc.start(ofDay: LocalDate(year: 2026, month: 2, day: 1).daysSinceEpoch)
        var deals = history(until: asOf.adding(milliseconds: -40 * day))
        // Won in the quarter before the moment: 2,500 (and one won before the quarter, not counted).
        deals.append(ForecastDeal(id: "w1", createdAt: asOf.adding(milliseconds: -40 * day), closedAt: asOf.adding(milliseconds: -10 * day), won: true, amount: 2_500, segment: "smb", ownerID: nil, stage: nil))
        deals.append(ForecastDeal(id: "w0", createdAt: asOf.adding(milliseconds: -70 * day), closedAt: asOf.adding(milliseconds: -40 * day), won: true, amount: 9_999, segment: "smb", ownerID: nil, stage: nil))
        // Open: a young deal (10 days old: half of such deals win by day 30) and one past every close (35 days old).
        deals.append(ForecastDeal(id: "young", createdAt: asOf.adding(milliseconds: -10 * day), closedAt: nil, won: false, amount: 10_000, segment: "smb", ownerID: nil, stage: nil))
        deals.append(ForecastDeal(id: "old", createdAt: asOf.adding(milliseconds: -35 * day), closedAt: nil, won: false, amount: 10_000, segment: "smb", ownerID: nil, stage: nil))
        let f = RevenueForecast.make(deals, quarter: quarter, asOf: asOf, calendar: utc)
        #expect(f.wonSoFar == 2_500 && f.openDeals == 2 && f.openAmount == 20_000)
        #expect(abs(f.expectedFromOpen - 5_000) < 50, "young: 10,000 × 0.5; old: no deal of the history closes after 30 days → \(f.expectedFromOpen)")
        // New deals: half of the year's deals won within 30 days; the window left is 59 days, half of it 29.5 < 30: none count.
        #expect(f.expectedFromNew == 0)
        #expect(f.low <= f.forecast && f.forecast <= f.high && f.low >= f.wonSoFar && abs(f.forecast - 7_500) < 50)
        #expect(f.bySegment.map(\.segment) == ["smb"] && f.bySegment.first?.ownHistory == true)
        // At the quarter's end nothing is left to forecast: the forecast is what was won.
        let end = RevenueForecast.make(deals, quarter: quarter, asOf: utc.start(ofDay: quarter.to.daysSinceEpoch), calendar: utc)
        #expect(end.forecast == end.wonSoFar && end.low == end.high)
        #expect(RevenueForecast.actual(deals, quarter: quarter, calendar: utc) == 2_500)
    }

    @Test("the backtest replays each complete quarter weekly with what was known then, and reports error and coverage")
    func backtest() throws {
        let now = utc.start(ofDay: LocalDate(year: 2026, month: 7, day: 15).daysSinceEpoch)
        let deals = history(until: now)
        let quarters = ForecastBacktest.quarters(deals, settings: WorkspaceSettings(), now: now)
        // Half a year of history first: the first quarter starting after 2025-01-11.
        #expect(quarters.first?.from == LocalDate(year: 2025, month: 4, day: 1) && quarters.last?.to == LocalDate(year: 2026, month: 7, day: 1))
        let b = ForecastBacktest.run(deals, quarters: quarters, calendar: utc)
        #expect(b.quarters == 5 && (5 * 13...5 * 14).contains(b.snapshots.count))
        // A steady history: late in the quarter the forecast is close to what it won.
        let late = try #require(b.byWeek.first { $0.week == 12 })
        #expect((late.mape ?? 1) < 0.1, "\(late)")
        #expect((b.coverage ?? 0) > 0.5 && b.mape != nil && b.method.contains("competing-risks"))
        // Nothing after a snapshot's moment is used: changing deals created after the last quarter changes no snapshot.
        var later = deals
        later.append(ForecastDeal(id: "future", createdAt: now, closedAt: now.adding(milliseconds: day), won: true, amount: 1e9, segment: "smb", ownerID: nil, stage: nil))
        #expect(ForecastBacktest.run(later, quarters: quarters, calendar: utc).snapshots == b.snapshots)
        // Fiscal quarters from April.
        let fiscal = ForecastBacktest.quarters(deals, settings: WorkspaceSettings(stored: ["workspace.fiscal_year_start_month": "4"]), now: now)
        #expect(fiscal.allSatisfy { [1, 4, 7, 10].contains($0.from.month) } && fiscal.last?.to == LocalDate(year: 2026, month: 7, day: 1))
    }

    @Test("segments by account size")
    func segments() {
        #expect(ForecastDeal.segment(employees: nil) == "unknown" && ForecastDeal.segment(employees: 50) == "smb")
        #expect(ForecastDeal.segment(employees: 200) == "mid-market" && ForecastDeal.segment(employees: 5_000) == "enterprise" && ForecastDeal.segment(employees: .nan) == "unknown")
    }
}

@Suite("Fiscal quarters as the default period")
struct FiscalPeriodTests {
    @Test("without dates a period is the fiscal quarter of today; with only a start, to the end of its fiscal quarter")
    func defaults() throws {
        let jan15 = LocalDate(year: 2026, month: 1, day: 15)
        #expect(try KPIPeriod.parse(from: nil, to: nil, today: jan15).get() == KPIPeriod(from: LocalDate(year: 2026, month: 1, day: 1), to: LocalDate(year: 2026, month: 4, day: 1)))
        #expect(
            try KPIPeriod.parse(from: nil, to: nil, today: jan15, fiscalStartMonth: 2).get()
                == KPIPeriod(from: LocalDate(year: 2025, month: 11, day: 1), to: LocalDate(year: 2026, month: 2, day: 1))
        )
        #expect(try KPIPeriod.parse(from: "2026-04-10", to: nil, today: jan15, fiscalStartMonth: 4).get().to == LocalDate(year: 2026, month: 7, day: 1))
        for start in 1...12 {
            var d = LocalDate(year: 2025, month: 1, day: 1)
            while d.year < 2027 {
                let q = KPIPeriod.fiscalQuarter(containing: d, startMonth: start)
                #expect(q.from <= d && d < q.to && q.from.day == 1 && ((q.from.month - start) % 3 + 3) % 3 == 0, "\(d.text) \(start)")
                d = d.adding(days: 9)
            }
        }
    }
}
