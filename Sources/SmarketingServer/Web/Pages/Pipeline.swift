import Foundation
import Hummingbird
import SmarketingCore
import SmarketingStore

extension WebApp {
    /// `/pipeline`: the pipeline review — open deals by stage and owner, aging, slipped close
    /// dates, and coverage against the revenue target from the KPI set.
    @Sendable func pipeline(_ user: WebUser, _ request: Request, _ context: AppRequestContext) async throws -> PageOut {
        let dq = dashboardQuery(request.uri.queryParameters)
        let now = clock.now()
        let review = try await store.pipelineReview(today: now.utcDate, now: now, slippedLimit: 50)
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
        let data: [String: Any] = [
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
        <div class="grid"><section class="card"><h2>By stage</h2>{{{stageChart}}}</section><section class="card"><h2>Aging</h2>{{{agingChart}}}</section></div>
        <div class="grid">
        <section class="card"><h2>By stage</h2><table><thead><tr><th>Stage</th><th class="n">Deals</th><th class="n">Amount</th><th class="n">Mean age</th><th class="n">Slipped</th></tr></thead><tbody>{{#byStage}}<tr><td>{{key}}</td><td class="n">{{count}}</td><td class="n">{{amount}}</td><td class="n">{{age}}</td><td class="n">{{slipped}}</td></tr>{{/byStage}}</tbody></table></section>
        <section class="card"><h2>By owner</h2><div class="scroll"><table><thead><tr><th>Owner</th><th class="n">Deals</th><th class="n">Amount</th><th class="n">Mean age</th><th class="n">Slipped</th></tr></thead><tbody>{{#byOwner}}<tr><td>{{key}}</td><td class="n">{{count}}</td><td class="n">{{amount}}</td><td class="n">{{age}}</td><td class="n">{{slipped}}</td></tr>{{/byOwner}}</tbody></table></div></section>
        </div>
        <section class="card"><h2>Slipped close dates (largest first)</h2>{{#hasSlipped}}<div class="scroll"><table><thead><tr><th>Deal</th><th>Account</th><th>Stage</th><th>Owner</th><th class="n">Amount</th><th>Expected close</th><th class="n">Age</th></tr></thead><tbody>
        {{#slipped}}<tr><td>{{name}}</td><td>{{account}}</td><td>{{stage}}</td><td>{{owner}}</td><td class="n">{{amount}}</td><td>{{close}}</td><td class="n">{{age}}</td></tr>{{/slipped}}</tbody></table></div>{{/hasSlipped}}{{^hasSlipped}}<p class="empty">No open deal is past its expected close date.</p>{{/hasSlipped}}</section>
        """
}
