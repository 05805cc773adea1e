import Foundation
import Hummingbird
import SmarketingConnectors
import SmarketingCore
import SmarketingStore

extension WebApp {
    /// `/pipeline`: the pipeline review — open deals by stage and owner, aging, slipped close
    /// dates, and coverage against the revenue target from the KPI set.
    @Sendable func pipeline(_ user: WebUser, _ request: Request, _ context: AppRequestContext) async throws -> PageOut {
        let dq = dashboardQuery(request.uri.queryParameters, try await cache.workspaceSettings(store))
        let now = clock.now()
        let review = try await store.pipelineReview(today: try await cache.workspaceSettings(store).today(now), now: now, slippedLimit: 50)
        let kpis = try await store.kpis(KPIQuery(period: dq.period, asOf: now)).total.current.pipelineCoverage
        let users = try await cache.users(store)
        func userName(_ id: String?) -> String { id.map { uid in users.first { $0.id == uid }?["name"].text ?? uid } ?? "" }
        func groupRows(_ g: [PipelineReview.Group], names: Bool) -> [[String: Any]] {
            g.map {
                [
                    "key": names ? userName($0.key) : $0.key, "count": Fmt.int($0.count), "amount": Fmt.money($0.amount),
                    "age": String(format: "%.0f d", $0.meanAgeDays), "slipped": Fmt.int($0.slipped),
                ]
            }
        }
        // The forecast of the fiscal quarter, tracked week by week against what closed.
        let tracking = try await ForecastReads.tracking(store, now: now)
        let f = tracking.current
        let settings = try await store.workspaceSettings().settings
        let calendar = KPICalendar(timeZone: settings.timeZone)
        func day(_ t: Timestamp) -> String { LocalDate(daysSinceEpoch: calendar.day(t)).text }
        let currentChart = SVGChart.forecast(
            tracking.currentQuarter.map { .init(label: day($0.asOf), forecast: $0.forecast, low: $0.low, high: $0.high, actual: $0.wonToDate) },
            title: "This quarter: forecast and won to date, week by week",
            actualLabel: "won to date",
            emptyText: "This quarter began less than a week ago: its week-by-week chart starts after its first week."
        )
        let lastChart = SVGChart.forecast(
            tracking.lastQuarter.map { .init(label: day($0.asOf), forecast: $0.forecast, low: $0.low, high: $0.high, actual: $0.actual) },
            title: "Last quarter: each week's forecast against what the quarter won",
            actualLabel: "the quarter's actual"
        )
        let lastErrors = tracking.lastQuarter.compactMap(\.error)
        let quiet = try await store.quietDeals(since: now.adding(milliseconds: -14 * 86_400_000), limit: 50)
        let data: [String: Any] = [
            "forecast": Fmt.money(f.forecast), "low": Fmt.money(f.low), "high": Fmt.money(f.high), "wonSoFar": Fmt.money(f.wonSoFar),
            "fromOpen": Fmt.money(f.expectedFromOpen), "fromNew": Fmt.money(f.expectedFromNew), "quarterFrom": f.quarterFrom,
            "quarterTo": LocalDate.parse(f.quarterTo).map { $0.adding(days: -1).text } ?? f.quarterTo,
            "segments": f.bySegment.map {
                ["segment": $0.segment, "open": Fmt.int($0.openDeals), "amount": Fmt.money($0.openAmount), "expected": Fmt.money($0.expected), "pooled": !$0.ownHistory]
            },
            "currentChart": currentChart, "lastChart": lastChart,
            "lastMAPE": lastErrors.isEmpty ? "—" : Fmt.percent(lastErrors.map(abs).reduce(0, +) / Double(lastErrors.count)),
            "lastCoverage": tracking.lastQuarter.isEmpty ? "—" : Fmt.percent(Double(tracking.lastQuarter.filter(\.covered).count) / Double(tracking.lastQuarter.count)),
            "quiet": quiet.map { d -> [String: Any] in
                [
                    "name": d.name, "owner": userName(d.ownerID), "stage": d.stage ?? "", "amount": Fmt.money(d.amount),
                    "last": d.lastSalesTouch.map(user.dateTime) ?? "never",
                ]
            },
            "hasQuiet": !quiet.isEmpty,
            "from": dq.period.from.text, "to": dq.period.to.text, "open": Fmt.int(review.openCount), "amount": Fmt.money(review.openAmount),
            "coverage": Fmt.ratio(kpis.coverage), "weighted": Fmt.ratio(kpis.weightedCoverage), "target": Fmt.money(kpis.revenueTarget),
            "won": Fmt.money(kpis.wonRevenue), "closing": Fmt.money(kpis.openPipeline),
            "stageChart": SVGChart.bars(
                review.byStage.map { .init(label: $0.key, value: $0.amount, text: "\(Fmt.money($0.amount)) · \($0.count) deals") },
                title: "Open pipeline by stage"
            ),
            "agingChart": SVGChart.bars(
                review.aging.map { .init(label: $0.label, value: Double($0.count), text: Fmt.int($0.count)) },
                title: "Open deals by age"
            ),
            "byStage": groupRows(review.byStage, names: false), "byOwner": groupRows(review.byOwner, names: true),
            "slipped": review.slipped.map { d -> [String: Any] in
                [
                    "name": d.name, "account": d.accountName ?? "", "stage": d.stage ?? "", "owner": userName(d.ownerID), "amount": Fmt.money(d.amount),
                    "close": d.expectedClose?.text ?? "", "age": String(format: "%.0f d", d.ageDays),
                ]
            },
            "hasSlipped": !review.slipped.isEmpty,
        ]
        return .html(view("pipeline", data), status: dq.errors.isEmpty ? .ok : .unprocessableContent)
    }

    static let pipelineTemplate = """
        <h1>Pipeline review</h1>
        <form class="period" method="get" action="/pipeline"><label>Target period from <input type="date" name="from" value="{{from}}"></label><label>to <input type="date" name="to" value="{{to}}"></label><button type="submit">Show</button></form>
        <section class="tiles" aria-label="Pipeline summary">
        <div class="tile"><h2>Open deals</h2><div class="v">{{open}}</div><div class="sub">{{amount}}</div></div>
        <div class="tile"><h2>Coverage {{from}} – {{to}}</h2><div class="v">{{coverage}}</div><div class="sub">weighted {{weighted}}</div></div>
        <div class="tile"><h2>Revenue target</h2><div class="v">{{target}}</div><div class="sub">won so far {{won}}</div></div>
        <div class="tile"><h2>Closing in the period</h2><div class="v">{{closing}}</div><div class="sub">open, expected close inside</div></div>
        </section>
        <section class="card" id="forecast" aria-labelledby="forecast-h"><h2 id="forecast-h">Forecast of won revenue, {{quarterFrom}} – {{quarterTo}}</h2>
        <div class="tiles"><div class="tile"><h2>Forecast</h2><div class="v" data-forecast>{{forecast}}</div><div class="sub">90 % interval {{low}} – {{high}}</div></div>
        <div class="tile"><h2>Won so far</h2><div class="v">{{wonSoFar}}</div></div><div class="tile"><h2>From open deals</h2><div class="v">{{fromOpen}}</div></div>
        <div class="tile"><h2>From deals not created yet</h2><div class="v">{{fromNew}}</div></div></div>
        <table><thead><tr><th>Segment</th><th class="n">Open deals</th><th class="n">Open amount</th><th class="n">Expected to win</th></tr></thead><tbody>{{#segments}}<tr><td>{{segment}}{{#pooled}} <span class="muted">(all segments' history)</span>{{/pooled}}</td><td class="n">{{open}}</td><td class="n">{{amount}}</td><td class="n">{{expected}}</td></tr>{{/segments}}</tbody></table>
        <div class="grid"><div>{{{currentChart}}}</div><div>{{{lastChart}}}<p class="muted">Last quarter's weekly forecasts missed its actual by {{lastMAPE}} on average; the actual was inside the interval in {{lastCoverage}} of the weeks. <code>smarketing forecast backtest</code> replays every quarter.</p></div></div>
        <p class="muted">How it is made: won so far + each open deal's amount × the chance that a deal of its segment still open at its age is won in the days left (from this workspace's own history) + the past year's rate of deals created and won inside such a window. docs/RITUALS.md has the details.</p></section>
        <section class="card"><h2>Deals without a next step</h2><p class="muted">Open deals whose contacts had no sales touch in the last 14 days, largest first.</p>{{#hasQuiet}}<div class="scroll"><table id="quiet-deals"><thead><tr><th>Deal</th><th>Stage</th><th>Owner</th><th class="n">Amount</th><th>Last sales touch</th></tr></thead><tbody>{{#quiet}}<tr><td>{{name}}</td><td>{{stage}}</td><td>{{owner}}</td><td class="n">{{amount}}</td><td>{{last}}</td></tr>{{/quiet}}</tbody></table></div>{{/hasQuiet}}{{^hasQuiet}}<p class="empty">Every open deal had a sales touch in the last 14 days.</p>{{/hasQuiet}}</section>
        <div class="grid"><section class="card"><h2>By stage</h2>{{{stageChart}}}</section><section class="card"><h2>Aging</h2>{{{agingChart}}}</section></div>
        <div class="grid">
        <section class="card"><h2>By stage</h2><table><thead><tr><th>Stage</th><th class="n">Deals</th><th class="n">Amount</th><th class="n">Mean age</th><th class="n">Slipped</th></tr></thead><tbody>{{#byStage}}<tr><td>{{key}}</td><td class="n">{{count}}</td><td class="n">{{amount}}</td><td class="n">{{age}}</td><td class="n">{{slipped}}</td></tr>{{/byStage}}</tbody></table></section>
        <section class="card"><h2>By owner</h2><div class="scroll"><table><thead><tr><th>Owner</th><th class="n">Deals</th><th class="n">Amount</th><th class="n">Mean age</th><th class="n">Slipped</th></tr></thead><tbody>{{#byOwner}}<tr><td>{{key}}</td><td class="n">{{count}}</td><td class="n">{{amount}}</td><td class="n">{{age}}</td><td class="n">{{slipped}}</td></tr>{{/byOwner}}</tbody></table></div></section>
        </div>
        <section class="card"><h2>Slipped close dates (largest first)</h2>{{#hasSlipped}}<div class="scroll"><table><thead><tr><th>Deal</th><th>Account</th><th>Stage</th><th>Owner</th><th class="n">Amount</th><th>Expected close</th><th class="n">Age</th></tr></thead><tbody>
        {{#slipped}}<tr><td>{{name}}</td><td>{{account}}</td><td>{{stage}}</td><td>{{owner}}</td><td class="n">{{amount}}</td><td>{{close}}</td><td class="n">{{age}}</td></tr>{{/slipped}}</tbody></table></div>{{/hasSlipped}}{{^hasSlipped}}<p class="empty">No open deal is past its expected close date.</p>{{/hasSlipped}}</section>
        """
}
