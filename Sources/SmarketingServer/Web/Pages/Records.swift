import Foundation
import Hummingbird
import SmarketingCore
import SmarketingStore

extension WebApp {
    /// The records behind each dashboard tile (the drill-down: every number can be explained).
    static let tileRecords: [String: [(KPIMetric, String)]] = [
        "lead_to_opportunity": [(.mqls, "MQLs"), (.mqlsConverted, "reached an opportunity")],
        "win_rate": [(.won, "won"), (.lost, "lost")],
        "lead_response_time": [(.assigned, "assigned"), (.response, "answered")],
        "deal_velocity": [(.velocity, "deals")],
        "cac": [(.newCustomers, "new customers"), (.spendMarketing, "marketing spend")],
        "romi": [(.won, "won deals"), (.spendMarketing, "marketing spend")],
        "pipeline_coverage": [(.openPipeline, "open deals")],
    ]

    /// `/kpis/{metric}?from&to[&by&key&label]`: the records behind a KPI figure, found by the same
    /// contribution function that fills the aggregates (the count always equals the figure).
    @Sendable func records(_ user: WebUser, _ request: Request, _ context: AppRequestContext) async throws -> PageOut {
        let name = context.parameters.get("metric") ?? ""
        guard let metric = KPIMetric(rawValue: name) else { throw Problem(.notFound, "There is no KPI metric “\(name)”.") }
        let dq = dashboardQuery(request.uri.queryParameters, try await cache.workspaceSettings(store))
        let q = request.uri.queryParameters
        let dimension = dq.by ?? .all
        let key = dimension == .all ? "all" : (q.get("key") ?? "")
        guard dimension == .all || !key.isEmpty else { throw Problem(.unprocessableContent, "Say which \(dimension.rawValue) (key) to list.") }
        let page = try await store.kpiRecords(metric: metric, period: dq.period, dimension: dimension, key: key, label: q.get("label"), limit: 500)
        let names = try await campaignNames()
        let rows = page.data.map { r -> [String: Any] in
            var value = ""
            if let v = r.value {
                switch metric {
                case .response, .responseBusiness, .velocity, .wonCycle, .stageTime: value = Fmt.hours(Double(v) / 3_600_000)
                default: value = Fmt.compact(Double(v))
                }
            }
            return [
                "resource": r.resource, "id": r.id, "day": r.day, "label": names[r.label ?? ""] ?? r.label ?? "", "value": value,
                "total": r.total.map { Fmt.money(Double($0) / 100) } ?? "",
                "href": r.resource == "contacts" ? "/leads/" + Self.query(r.id) : (r.resource == "campaigns" ? "/campaigns/" + Self.query(r.id) : ""),
            ]
        }
        let data: [String: Any] = [
            "metric": metric.rawValue, "count": Fmt.int(page.count), "shown": rows.count, "more": page.count > rows.count, "rows": rows,
            "from": page.from, "to": page.to, "cut": dimension == .all ? "" : "\(dimension.rawValue) \(key)",
            "api": "/api/v1/kpis/\(metric.rawValue)/records?from=\(page.from)&to=\(page.to)"
                + (dimension == .all ? "" : "&by=\(dimension.rawValue)&key=\(Self.query(key))"),
        ]
        return .html(view("records", data), title: "Records behind \(metric.rawValue)")
    }

    static let recordsTemplate = """
        <h1>Records behind <code>{{metric}}</code></h1>
        <p>{{count}} records from {{from}} to {{to}}{{#cut}} for {{cut}}{{/cut}}{{#more}} — the first {{shown}} are listed; <a href="{{api}}&amp;limit=10000">all of them as JSON</a>{{/more}}. The definitions are in docs/KPIS.md.</p>
        <div class="scroll"><table><thead><tr><th>Record</th><th>Type</th><th>Day</th><th>Label</th><th class="n">Value</th><th class="n">Amount</th></tr></thead><tbody>
        {{#rows}}<tr><td>{{#href}}<a href="{{href}}">{{id}}</a>{{/href}}{{^href}}{{id}}{{/href}}</td><td>{{resource}}</td><td>{{day}}</td><td>{{label}}</td><td class="n">{{value}}</td><td class="n">{{total}}</td></tr>{{/rows}}
        </tbody></table></div>
        """
}
