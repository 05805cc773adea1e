import Foundation
import Hummingbird
import SmarketingConnectors
import SmarketingCore
import SmarketingStore

extension WebApp {
    /// `/campaigns`: every campaign's figures for the period from the KPI set cut by campaign,
    /// and ROMI under the chosen attribution model.
    @Sendable func campaigns(_ user: WebUser, _ request: Request, _ context: AppRequestContext) async throws -> PageOut {
        let dq = dashboardQuery(request.uri.queryParameters, try await cache.workspaceSettings(store))
        let version = try await store.kpiVersion()
        let report = try await store.kpis(KPIQuery(period: dq.period, by: [.campaign], asOf: clock.now()))
        let romi = try await romiReport(dq.period, model: dq.model, byCampaign: true, version: cache.slowVersion(version, seconds: 30))
        let campaigns = try await store.list(.campaigns, Self.all).records
        let groups = Dictionary((report.by["campaign"] ?? []).map { ($0.key, $0.current) }, uniquingKeysWith: { a, _ in a })
        let romiRows = Dictionary((romi?.byCampaign ?? []).map { ($0.label, $0) }, uniquingKeysWith: { a, _ in a })
        let rows = campaigns.map { c -> (Double, [String: Any]) in
            let v = groups[c.id]
            let r = romiRows[c.id] ?? romiRows[c["name"].text ?? ""]
            let spend = v?.cac.marketingSpend ?? 0
            return (
                v?.dealVelocity.wonRevenue ?? 0,
                [
                    "id": c.id, "name": c["name"].text ?? c.id, "channel": c["channel"].text ?? "", "spend": Fmt.money(spend),
                    "leads": Fmt.int(v?.leadToOpportunity.leadCohort.population ?? 0), "mqls": Fmt.int(v?.mqlVolume.mqls ?? 0),
                    "acceptance": Fmt.percent(v?.mqlAcceptance.rate), "opps": Fmt.int(v?.leadToOpportunity.leadCohort.converted ?? 0),
                    "pipeline": Fmt.money(v?.pipelineCoverage.openPipeline), "revenue": Fmt.money(v?.dealVelocity.wonRevenue),
                    "attributed": Fmt.money(r?.revenue), "romi": Fmt.percent(r?.romi), "cpm": Fmt.money(v?.mqlVolume.costPerMql),
                ]
            )
        }.sorted { $0.0 > $1.0 }.map(\.1)
        let data: [String: Any] = [
            "from": dq.period.from.text, "to": dq.period.to.text, "rows": rows, "model": dq.model.rawValue, "query": dq.query,
            "models": Self.dashboardModels.map {
                ["value": $0.rawValue, "label": $0.rawValue.replacingOccurrences(of: "_", with: " "), "selected": $0 == dq.model]
            },
            "errFrom": dq.errors["from"] as Any, "errTo": dq.errors["to"] as Any,
        ]
        return .html(view("campaigns", data), status: dq.errors.isEmpty ? .ok : .unprocessableContent)
    }

    /// `/campaigns/{id}`: one campaign's figures and its ROMI under every rule model (the
    /// data-driven ones on request: they read every journey).
    @Sendable func campaign(_ user: WebUser, _ request: Request, _ context: AppRequestContext) async throws -> PageOut {
        let id = context.parameters.get("id") ?? ""
        guard let c = try await store.get(.campaigns, id: id) else { throw Problem(.notFound, "There is no campaign with id “\(id)”.") }
        let dq = dashboardQuery(request.uri.queryParameters, try await cache.workspaceSettings(store))
        let dataDriven = request.uri.queryParameters.get("data_driven") == "1"
        let version = cache.slowVersion(try await store.kpiVersion(), seconds: 30)
        let report = try await store.kpis(KPIQuery(period: dq.period, by: [.campaign], asOf: clock.now()))
        let v = report.by["campaign"]?.first { $0.key == id }
        let models = AttributionModel.allCases.filter { dataDriven || $0.rule != nil }
        let store = self.store
        let workspace = try await store.workspaceSettings().settings
        let ask = AttributionAsk(period: dq.period, by: .campaign, models: models, lookbackDays: workspace.lookbackDays, halfLifeDays: workspace.halfLifeDays)
        let attribution = try await cache.attribution(store, clock: clock, ask, version: version).report
        let perModel = attribution.models.map { m -> SVGChart.Item in
            let row = m.rows.first { $0.label == id }
            return .init(
                label: m.model.replacingOccurrences(of: "_", with: " "),
                value: row?.revenue ?? 0,
                text: "\(Fmt.money(row?.revenue)) · ROMI \(Fmt.percent(row?.romi))"
            )
        }
        func pair(_ f: (KPIValues) -> String) -> [String: String] { ["now": v.map { f($0.current) } ?? "—", "before": v.map { f($0.previous) } ?? "—"] }
        let figures: [(String, [String: String])] = [
            ("Spend", pair { Fmt.money($0.cac.marketingSpend) }), ("Leads created", pair { Fmt.int($0.leadToOpportunity.leadCohort.population) }),
            ("MQLs", pair { Fmt.int($0.mqlVolume.mqls) }), ("Cost per MQL", pair { Fmt.money($0.mqlVolume.costPerMql) }),
            ("MQL → SAL acceptance", pair { Fmt.percent($0.mqlAcceptance.rate) }),
            ("Lead → opportunity (MQLs)", pair { Fmt.percent($0.leadToOpportunity.mqlCohort.rate) }),
            ("Open pipeline closing in the period", pair { Fmt.money($0.pipelineCoverage.openPipeline) }),
            ("Won revenue", pair { Fmt.money($0.dealVelocity.wonRevenue) }),
            ("Win rate", pair { Fmt.percent($0.winRate.rate) }),
        ]
        // The joint review: sales' ratings of the campaign's leads and both teams' notes with the decision.
        let quality = try await LeadQualityReads.report(store, period: dq.period, by: .campaign).groups.first { $0.key == id }
        let notes = try await store.campaignNotes(campaignID: id)
        let standing = CampaignNote.standing(notes)
        let data: [String: Any] = [
            "review": [
                "csrf": user.session.csrf, "canNote": AccessPolicy.mayRunMeetings(user.role), "id": id,
                "decision": standing.map { ["what": $0.decision?.rawValue ?? "", "by": $0.authorName ?? $0.author, "when": user.dateTime($0.createdAt)] } as Any,
                "rated": quality.map { "\($0.rated) of \($0.answered) answered leads rated; \(Fmt.percent($0.goodShare)) good; \(Fmt.percent($0.rejectionRate)) rejected" }
                    ?? "Sales answered none of this campaign's leads in the period.",
                "badReasons": quality?.badReasons.prefix(3).map { "\(LeadRatingReasons.label($0.reason)) (\($0.count))" }.joined(separator: ", ") ?? "",
                "notes": notes.map {
                    [
                        "who": $0.authorName ?? $0.author, "team": $0.team ?? "", "when": user.dateTime($0.createdAt), "text": $0.text,
                        "decision": $0.decision?.rawValue as Any,
                    ] as [String: Any]
                },
                "hasNotes": !notes.isEmpty,
                "decisions": CampaignNote.Decision.allCases.map(\.rawValue),
            ] as [String: Any],
            "name": c["name"].text ?? id, "id": id, "channel": c["channel"].text ?? "", "type": c["type"].text ?? "",
            "start": c["start_date"].csvText, "end": c["end_date"].csvText, "budget": Fmt.money(c["budget"].double),
            "from": dq.period.from.text, "to": dq.period.to.text, "figures": figures.map { ["label": $0.0, "now": $0.1["now"]!, "before": $0.1["before"]!] },
            "chart": SVGChart.bars(perModel, title: "Revenue attributed to this campaign per model"), "dataDriven": dataDriven,
            "moreLink": "/campaigns/\(Self.query(id))?from=\(dq.period.from.text)&to=\(dq.period.to.text)&data_driven=1",
        ]
        return .html(view("campaign", data), title: data["name"] as? String)
    }

    static let campaignsTemplate = """
        <h1>Campaigns</h1>
        <form class="period" method="get" action="/campaigns">
          <label>From <input type="date" name="from" value="{{from}}"{{#errFrom}} aria-invalid="true"{{/errFrom}}>{{#errFrom}}<span class="field-error">{{errFrom}}</span>{{/errFrom}}</label>
          <label>To (exclusive) <input type="date" name="to" value="{{to}}"{{#errTo}} aria-invalid="true"{{/errTo}}>{{#errTo}}<span class="field-error">{{errTo}}</span>{{/errTo}}</label>
          <label>Attribution model <select name="model" data-autosubmit>{{#models}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/models}}</select></label>
          <button type="submit">Show</button>
        </form>
        <div class="scroll"><table><thead><tr><th>Campaign</th><th>Channel</th><th class="n">Spend</th><th class="n">Leads</th><th class="n">MQLs</th><th class="n">Cost/MQL</th><th class="n">Acceptance</th><th class="n">Opportunities</th><th class="n">Open pipeline</th><th class="n">Won revenue</th><th class="n">Attributed ({{model}})</th><th class="n">ROMI</th></tr></thead><tbody>
        {{#rows}}<tr><td><a href="/campaigns/{{id}}?{{query}}">{{name}}</a></td><td>{{channel}}</td><td class="n">{{spend}}</td><td class="n">{{leads}}</td><td class="n">{{mqls}}</td><td class="n">{{cpm}}</td><td class="n">{{acceptance}}</td><td class="n">{{opps}}</td><td class="n">{{pipeline}}</td><td class="n">{{revenue}}</td><td class="n">{{attributed}}</td><td class="n">{{romi}}</td></tr>{{/rows}}
        </tbody></table></div>
        <p class="muted">Leads, MQLs and opportunities count the campaign that created the lead; attributed revenue and ROMI split each won deal over its path's touches under the chosen model (docs/KPIS.md).</p>
        """

    static let campaignTemplate = """
        <h1>{{name}} <span class="pill">{{channel}}</span></h1>
        <p class="muted">{{type}} · {{start}} to {{end}} · budget {{budget}} · figures for {{from}} to {{to}}</p>
        <div class="grid"><section class="card"><h2>Figures</h2><table><thead><tr><th></th><th class="n">This period</th><th class="n">Previous period</th></tr></thead><tbody>
        {{#figures}}<tr><th>{{label}}</th><td class="n">{{now}}</td><td class="n">{{before}}</td></tr>{{/figures}}</tbody></table></section>
        <section class="card"><h2>ROMI per attribution model</h2>{{{chart}}}{{^dataDriven}}<p><a href="{{moreLink}}">Add Markov and Shapley</a> <span class="muted">(they read every journey; slow on large workspaces)</span></p>{{/dataDriven}}</section></div>
        {{#review}}<section class="card" id="review" aria-labelledby="review-h"><h2 id="review-h">Joint review {{#decision}}<span class="pill" data-decision="{{what}}">decision: {{what}}</span> <span class="muted">by {{by}}, {{when}}</span>{{/decision}}</h2>
        <p><strong>Lead quality:</strong> {{rated}}{{#badReasons}} · not good because: {{badReasons}}{{/badReasons}}</p>
        {{^hasNotes}}<p class="empty">No notes yet: marketing and sales write here what they see and decide whether the campaign continues, changes or stops.</p>{{/hasNotes}}
        <ol class="timeline notes">{{#notes}}<li><span class="when">{{when}}</span><strong>{{who}}</strong> <span class="muted">{{team}}</span>{{#decision}} <span class="pill">{{decision}}</span>{{/decision}}<p>{{text}}</p></li>{{/notes}}</ol>
        {{#canNote}}<form method="post" action="/campaigns/{{id}}/review" class="inline"><input type="hidden" name="_csrf" value="{{csrf}}"><label>Note <textarea name="text" rows="2" maxlength="2000" required></textarea></label>
        <label>Decision <select name="decision"><option value="">none</option>{{#decisions}}<option>{{.}}</option>{{/decisions}}</select></label><button type="submit" data-action="note">Add to the review</button></form>{{/canNote}}</section>{{/review}}
        """
}

extension WebApp {
    /// `POST /campaigns/{id}/review`: a note (and optionally a decision) in the campaign's review.
    func campaignNote(_ form: FormBody, _ context: AppRequestContext, _ user: WebUser) async throws -> Response {
        guard AccessPolicy.mayRunMeetings(user.role) else { throw Problem(.forbidden, "Viewers read the review; they do not write in it.") }
        let id = context.parameters.get("id") ?? ""
        var segment = CharacterSet.urlPathAllowed
        segment.remove(charactersIn: "/;?#")
        let back = "/campaigns/" + (id.addingPercentEncoding(withAllowedCharacters: segment) ?? id)
        let decision = form["decision"].flatMap(CampaignNote.Decision.init(rawValue:))
        do {
            _ = try await store.addCampaignNote(campaignID: id, text: form.fields["text"] ?? "", decision: decision, actor: user.actor, at: clock.now())
        } catch let e as StoreError {
            return redirect(back + "?bad=" + Self.query(e.description) + "#review")
        }
        return redirect(back + "?ok=" + Self.query(decision.map { "Note added; the decision is now “\($0.rawValue)”." } ?? "Note added.") + "#review")
    }
}
