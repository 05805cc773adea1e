import Foundation
import Hummingbird
import SmarketingConnectors
import SmarketingCore
import SmarketingStore

extension WebApp {
    /// `/lead-quality`: sales' feedback on marketing's leads — accepted, rejected and why, rated
    /// good or not and why — per campaign, channel, persona, content or month (the API's
    /// `/api/v1/lead-quality`).
    @Sendable func leadQuality(_ user: WebUser, _ request: Request, _ context: AppRequestContext) async throws -> PageOut {
        let q = request.uri.queryParameters
        let dq = dashboardQuery(q, try await cache.workspaceSettings(store))
        var errors = dq.errors
        var cut = LeadQualityCut.campaign
        if let b = q.get("by"), !b.isEmpty {
            if let c = LeadQualityCut(rawValue: b) { cut = c } else { errors["by"] = "Choose one of the listed cuts." }
        }
        let report = try await LeadQualityReads.report(store, period: dq.period, by: cut)
        func row(_ g: LeadQualityReport.Group) -> [String: Any] {
            [
                "key": g.key, "name": g.name ?? g.key, "answered": g.answered, "accepted": g.accepted, "rejected": g.rejected, "rated": g.rated,
                "good": g.good, "bad": g.bad, "goodShare": g.goodShare.map { String(format: "%.0f %%", $0 * 100) } ?? "–",
                "rejectionRate": g.rejectionRate.map { String(format: "%.0f %%", $0 * 100) } ?? "–",
                "lowGood": (g.goodShare ?? 1) < 0.5 && g.rated >= 3,
                "rejections": g.rejectionReasons.prefix(3).map { "\($0.reason) (\($0.count))" }.joined(separator: ", "),
                "badReasons": g.badReasons.prefix(3).map { "\(LeadRatingReasons.label($0.reason)) (\($0.count))" }.joined(separator: ", "),
            ]
        }
        let data: [String: Any] = [
            "from": dq.period.from.text, "to": dq.period.to.text, "errFrom": errors["from"] as Any, "errTo": errors["to"] as Any, "errBy": errors["by"] as Any,
            "cuts": LeadQualityCut.allCases.map { ["value": $0.rawValue, "label": $0.rawValue.capitalized, "selected": $0 == cut] },
            "by": cut.rawValue.capitalized, "total": row(report.total), "groups": report.groups.prefix(200).map(row), "empty": report.groups.isEmpty,
        ]
        return .html(view("lead-quality", data))
    }

    static let leadQualityTemplate = """
        <h1>Lead quality</h1>
        <p class="muted">What sales said about the leads it answered in the period: accepted or rejected (and why), rated good or not (and why). Sales rates from the inbox and the lead page.</p>
        <form class="period" method="get" action="/lead-quality" aria-label="Period and cut">
          <label>From <input type="date" name="from" value="{{from}}">{{#errFrom}}<span class="field-error">{{errFrom}}</span>{{/errFrom}}</label>
          <label>To (exclusive) <input type="date" name="to" value="{{to}}">{{#errTo}}<span class="field-error">{{errTo}}</span>{{/errTo}}</label>
          <label>By <select name="by">{{#cuts}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/cuts}}</select>{{#errBy}}<span class="field-error">{{errBy}}</span>{{/errBy}}</label>
          <button type="submit">Show</button>
        </form>
        <div class="card scroll"><table id="lead-quality"><thead><tr><th>{{by}}</th><th class="n">answered</th><th class="n">accepted</th><th class="n">rejected</th><th class="n">rejection rate</th><th class="n">rated</th><th class="n">good</th><th class="n">not good</th><th class="n">good share</th><th>top rejection reasons</th><th>why not good</th></tr></thead>
        <tbody>{{#total}}<tr class="total"><th>All</th><td class="n">{{answered}}</td><td class="n">{{accepted}}</td><td class="n">{{rejected}}</td><td class="n">{{rejectionRate}}</td><td class="n">{{rated}}</td><td class="n">{{good}}</td><td class="n">{{bad}}</td><td class="n">{{goodShare}}</td><td>{{rejections}}</td><td>{{badReasons}}</td></tr>{{/total}}
        {{#groups}}<tr data-key="{{key}}"><td>{{name}}</td><td class="n">{{answered}}</td><td class="n">{{accepted}}</td><td class="n">{{rejected}}</td><td class="n">{{rejectionRate}}</td><td class="n">{{rated}}</td><td class="n">{{good}}</td><td class="n">{{bad}}</td><td class="n{{#lowGood}} error{{/lowGood}}">{{goodShare}}</td><td>{{rejections}}</td><td>{{badReasons}}</td></tr>{{/groups}}</tbody></table>
        {{#empty}}<p class="empty">Sales answered no handover in this period.</p>{{/empty}}</div>
        """
}
