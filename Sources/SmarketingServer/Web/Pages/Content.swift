import Foundation
import Hummingbird
import SmarketingCore
import SmarketingStore

extension WebApp {
    static let funnelStages = Resource.content.schema.choices("funnel_stage")

    /// `/personas`: the persona × funnel-stage grid of content.
    @Sendable func personas(_ user: WebUser, _ request: Request, _ context: AppRequestContext) async throws -> PageOut {
        let personas = try await store.list(.personas, Self.all).records
        let content = try await store.list(.content, Self.all).records
        func assets(_ persona: String?, _ stage: String) -> [[String: Any]] {
            content.filter { c in
                let ids = c["persona_ids"].ids
                return (c["funnel_stage"].text ?? "") == stage && (persona == nil ? ids.isEmpty : ids.contains(persona!))
            }.map { ["id": $0.id, "title": $0["title"].text ?? $0.id, "type": $0["type"].text ?? ""] }
        }
        var rows = personas.map { p -> [String: Any] in
            [
                "name": p["name"].text ?? p.id, "description": p["description"].text ?? "",
                "cells": Self.funnelStages.map { s -> [String: Any] in
                    let a = assets(p.id, s)
                    return ["assets": a, "gap": a.isEmpty]
                },
            ]
        }
        rows.append([
            "name": "Every persona", "description": "content with no persona", "cells": Self.funnelStages.map { ["assets": assets(nil, $0), "gap": false] },
        ])
        return .html(view("personas", ["rows": rows]))
    }

    /// `/content`: each asset's use by marketing and sales and its influence on won deals
    /// (revenue credited to it under the linear model, period as on the dashboard).
    @Sendable func content(_ user: WebUser, _ request: Request, _ context: AppRequestContext) async throws -> PageOut {
        let dq = dashboardQuery(request.uri.queryParameters, try await cache.workspaceSettings(store))
        let version = cache.slowVersion(try await store.kpiVersion(), seconds: 30)
        let content = try await store.list(.content, Self.all).records
        let usage = Dictionary(
            (try await cache.latest("content-usage", version: version) { [store] in try await store.contentUsage() }).map { ($0.contentID, $0) },
            uniquingKeysWith: { a, _ in a }
        )
        let store = self.store
        let workspace = try await store.workspaceSettings().settings
        let ask = AttributionAsk(period: dq.period, by: .content, models: [dq.model], lookbackDays: workspace.lookbackDays, halfLifeDays: workspace.halfLifeDays)
        let attribution = try await cache.attribution(store, clock: clock, ask, version: version).report
        let current = cache.isCurrent("content-usage", version: version) && cache.isCurrent(ask.key, version: version)
        let credit = Dictionary((attribution.models.first?.rows ?? []).map { ($0.label, $0) }, uniquingKeysWith: { a, _ in a })
        let rows = content.map { c -> (Double, [String: Any]) in
            let u = usage[c.id]
            let r = credit[c.id]
            return (
                r?.revenue ?? 0,
                [
                    "title": c["title"].text ?? c.id, "type": c["type"].text ?? "", "stage": c["funnel_stage"].text ?? "", "url": c["url"].text ?? "",
                    "marketing": Fmt.int(u?.marketingTouches ?? 0), "sales": Fmt.int(u?.salesTouches ?? 0), "contacts": Fmt.int(u?.contacts ?? 0),
                    "deals": r.map { String(format: "%.1f", $0.deals) } ?? "0", "revenue": Fmt.money(r?.revenue ?? 0),
                ]
            )
        }.sorted { $0.0 > $1.0 }.map(\.1)
        let data: [String: Any] = [
            "rows": rows, "current": current, "from": dq.period.from.text, "to": dq.period.to.text, "model": dq.model.rawValue,
            "models": Self.dashboardModels.map {
                ["value": $0.rawValue, "label": $0.rawValue.replacingOccurrences(of: "_", with: " "), "selected": $0 == dq.model]
            },
        ]
        return .html(view("content", data), status: dq.errors.isEmpty ? .ok : .unprocessableContent)
    }

    static let personasTemplate = """
        <h1>Personas × funnel stage</h1>
        <p class="muted">Which content speaks to whom at which stage; an empty cell is a gap to fill.</p>
        <div class="scroll"><table class="grid-table"><thead><tr><th>Persona</th><th>Top of funnel</th><th>Middle</th><th>Bottom</th></tr></thead><tbody>
        {{#rows}}<tr><th>{{name}}<br><span class="muted">{{description}}</span></th>{{#cells}}<td>{{#gap}}<span class="error">gap</span>{{/gap}}<ul>{{#assets}}<li>{{title}} <span class="muted">{{type}}</span></li>{{/assets}}</ul></td>{{/cells}}</tr>{{/rows}}
        </tbody></table></div>
        """

    static let contentTemplate = """
        <h1>Content</h1>
        <form class="period" method="get" action="/content"><label>Deals won from <input type="date" name="from" value="{{from}}"></label><label>to <input type="date" name="to" value="{{to}}"></label>
        <label>Attribution model <select name="model" data-autosubmit>{{#models}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/models}}</select></label><button type="submit">Show</button></form>
        {{^current}}<p class="muted" role="status">Updating: these figures are from before the latest changes; reload in a moment.</p>{{/current}}
        <div class="scroll"><table><thead><tr><th>Asset</th><th>Type</th><th>Stage</th><th class="n">Marketing touches</th><th class="n">Used or sent by sales</th><th class="n">Contacts</th><th class="n">Deals credited ({{model}})</th><th class="n">Revenue credited</th></tr></thead><tbody>
        {{#rows}}<tr><td>{{#url}}<a href="{{url}}">{{title}}</a>{{/url}}{{^url}}{{title}}{{/url}}</td><td>{{type}}</td><td>{{stage}}</td><td class="n">{{marketing}}</td><td class="n">{{sales}}</td><td class="n">{{contacts}}</td><td class="n">{{deals}}</td><td class="n">{{revenue}}</td></tr>{{/rows}}
        </tbody></table></div>
        """
}
