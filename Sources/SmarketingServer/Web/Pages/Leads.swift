import Foundation
import Hummingbird
import SmarketingCore
import SmarketingStore

extension WebApp {
    static let stages = LifecycleStage.allCases.map(\.rawValue)

    /// `/leads`: search and filters over the contacts, newest first, 50 a page.
    @Sendable func leads(_ user: WebUser, _ request: Request, _ context: AppRequestContext) async throws -> PageOut {
        let q = request.uri.queryParameters
        func value(_ name: String) -> String? { q.get(name).flatMap { $0.isEmpty ? nil : $0 } }
        var lq = LeadQuery()
        var errors: [String: String] = [:]
        lq.search = value("q")
        lq.stage = value("stage")
        if let s = lq.stage, !Self.stages.contains(s) { errors["stage"] = "Choose one of the listed stages." }
        lq.ownerID = value("owner")
        lq.grade = value("grade")
        lq.personaID = value("persona")
        lq.campaignID = value("campaign")
        if let s = value("stale") {
            if let d = Int(s), (1...365).contains(d) { lq.staleDays = d } else { errors["stale"] = "Days without a sales touch: a whole number from 1 to 365." }
        }
        lq.after = value("after")
        let users = try await cache.users(store)
        let personas = try await store.list(.personas, Self.all).records
        let campaigns = try await store.list(.campaigns, Self.all).records
        let page = errors.isEmpty ? try await store.leads(lq, now: clock.now()) : LeadPage(rows: [], next: nil)
        func options(_ records: [Record], _ label: String, _ selected: String?) -> [[String: Any]] {
            records.map { ["value": $0.id, "label": $0[label].text ?? $0.id, "selected": $0.id == selected] }
        }
        var pairs: [String] = []
        for (k, v) in request.uri.queryParameters where k != "after" { pairs.append(String(k) + "=" + Self.query(String(v))) }
        var base = pairs.joined(separator: "&")
        if !base.isEmpty { base += "&" }
        let data: [String: Any] = [
            "q": lq.search ?? "", "stale": value("stale") ?? "",
            "stages": Self.stages.map { ["value": $0, "label": $0, "selected": $0 == lq.stage] },
            "owners": options(users.filter { $0["team"].text != "marketing" }, "name", lq.ownerID),
            "grades": ["A", "B", "C", "D"].map { (g: String) -> [String: Any] in ["value": g, "label": g, "selected": g == lq.grade] },
            "personas": options(personas, "name", lq.personaID), "campaigns": options(campaigns, "name", lq.campaignID),
            "rows": page.rows.map { r -> [String: Any] in
                [
                    "id": r.id, "name": r.name.isEmpty ? r.email : r.name, "email": r.email, "account": r.accountName ?? "", "stage": r.stage ?? "",
                    "owner": r.ownerName ?? r.ownerID ?? "", "grade": r.grade ?? "", "engagement": r.engagement.flatMap { Int(exactly: $0.rounded()).map(String.init) } ?? "",
                    "persona": personas.first { $0.id == r.personaID }?["name"].text ?? r.personaID ?? "", "created": user.dateTime(r.createdAt),
                ]
            },
            "empty": page.rows.isEmpty && errors.isEmpty, "next": page.next.map { "/leads?\(base)after=\(Self.query($0))" } as Any,
            "errStage": errors["stage"] as Any, "errStale": errors["stale"] as Any,
        ]
        return .html(view("leads", data), status: errors.isEmpty ? .ok : .unprocessableContent)
    }

    static var all: ListQuery {
        var q = ListQuery()
        q.limit = 10_000
        return q
    }

    /// `/leads/{id}`: the timeline of touchpoints and stage changes, the score breakdown and its
    /// history, owner and SLA clocks, account and opportunities.
    @Sendable func lead(_ user: WebUser, _ request: Request, _ context: AppRequestContext) async throws -> PageOut {
        let id = context.parameters.get("id") ?? ""
        guard let c = try await store.get(.contacts, id: id) else { throw Problem(.notFound, "There is no lead with id “\(id)”.") }
        let now = clock.now()
        let users = try await cache.users(store)
        func userName(_ id: String?) -> String { id.map { uid in users.first { $0.id == uid }?["name"].text ?? uid } ?? "" }
        var tq = ListQuery()
        tq.equals["contact_id"] = .text(id)
        tq.sort = "occurred_at"
        tq.descending = true
        tq.limit = 200
        let touches = try await store.list(.touchpoints, tq).records
        let transitions = try await store.transitions(contactID: id)
        let campaignNames = try await campaignNames()
        let contentTitles = Dictionary(
            try await store.list(.content, Self.all).records.map { ($0.id, $0["title"].text ?? $0.id) },
            uniquingKeysWith: { a, _ in a }
        )
        var timeline: [(Timestamp, [String: Any])] = touches.compactMap { t in
            guard let at = t["occurred_at"].timestamp else { return nil }
            let campaign = t["campaign_id"].text.map { campaignNames[$0] ?? $0 }
            let content = t["content_id"].text.map { contentTitles[$0] ?? $0 }
            let what = [t["type"].text, t["channel"].text, campaign, content].compactMap { $0 }.joined(separator: " · ")
            let by = t["actor_id"].text.map { "by " + userName($0) } ?? "marketing"
            return (at, ["when": user.dateTime(at), "what": what, "by": by, "kind": "touch"])
        }
        for tr in transitions {
            timeline.append(
                (
                    tr.at,
                    [
                        "when": user.dateTime(tr.at), "what": "stage \(tr.from ?? "–") → \(tr.to)" + (tr.reason.map { " (\($0))" } ?? ""), "by": tr.actor,
                        "kind": "stage",
                    ]
                )
            )
        }
        timeline.sort { $0.0 > $1.0 }
        // Without an active scoring model there is no breakdown to show (the page says so).
        var score: ScoreExplanation?
        do {
            score = try await store.scoreExplanation(contactID: id, at: now)
        } catch StoreError.invalid(_) {
            score = nil
        } catch StoreError.conflict(_) {
            score = nil  // no model is active yet (a workspace just imported)
        }
        var hq = HandoverQuery()
        hq.contactID = id
        hq.limit = 5
        let handovers = try await store.handovers(hq, at: now)
        let ratings = try await store.leadRatings(handoverIDs: handovers.map(\.id))
        let account = try await c["account_id"].text.asyncMap { try await store.get(.accounts, id: $0) } ?? nil
        var oq = ListQuery()
        oq.equals["contact_id"] = .text(id)
        oq.limit = 50
        var oppIDs = Set(try await store.list(.opportunityContacts, oq).records.compactMap { $0["opportunity_id"].text })
        var pq = ListQuery()
        pq.equals["primary_contact_id"] = .text(id)
        pq.limit = 50
        if let primary = try? await store.list(.opportunities, pq).records { oppIDs.formUnion(primary.map(\.id)) }
        var opps: [[String: Any]] = []
        for oid in oppIDs.sorted() {
            guard let o = try await store.get(.opportunities, id: oid) else { continue }
            opps.append([
                "name": o["name"].text ?? oid, "stage": o["stage"].text ?? "", "amount": Fmt.money(o["amount"].double),
                "close": o["expected_close_date"].csvText, "won": o["is_won"] == .bool(true) ? "won" : (o["closed_at"].isNull ? "open" : "lost"),
            ])
        }
        let name = [c["first_name"].text, c["last_name"].text].compactMap { $0 }.joined(separator: " ")
        var data: [String: Any] = [
            "id": id, "name": name.isEmpty ? (c["email"].text ?? id) : name, "email": c["email"].text ?? "", "title": c["title"].text ?? "",
            "stage": c["lifecycle_stage"].text ?? "", "owner": userName(c["owner_id"].text), "channel": c["source_channel"].text ?? "",
            "campaign": c["source_campaign_id"].text.map { campaignNames[$0] ?? $0 } ?? "", "created": c["created_at"].timestamp.map(user.dateTime) ?? "",
            "timeline": timeline.prefix(200).map(\.1), "opps": opps, "hasOpps": !opps.isEmpty,
            "account": account.map { a -> [String: Any] in
                [
                    "name": a["name"].text ?? a.id, "domain": a["domain"].text ?? "", "industry": a["industry"].text ?? "",
                    "employees": a["employees"].double.flatMap { Int64(exactly: $0.rounded()).map(Fmt.int) } ?? "",
                ]
            } as Any,
            "handovers": handovers.map { h -> [String: Any] in
                [
                    "id": h.id, "status": h.status.rawValue, "owner": userName(h.ownerID), "created": user.dateTime(h.createdAt),
                    "rated": ratings[h.id].map { "rated \($0.rating == .good ? "good" : "not good")\($0.reason.map { r in " (\(LeadRatingReasons.label(r)))" } ?? "") by \(userName($0.ratedBy))" } as Any,
                    "canRate": (!h.status.isOpen || h.status == .accepted) && AccessPolicy.mayWorkHandovers(user.role), "csrf": user.session.csrf, "back": "/leads/" + id,
                    "goodReasons": Self.ratingReasons(.good), "badReasons": Self.ratingReasons(.bad),
                    "clocks": h.clocks.map { k -> [String: Any] in
                        [
                            "kind": k.kind.rawValue.replacingOccurrences(of: "_", with: " "), "status": k.status.rawValue, "due": user.dateTime(k.dueAt),
                            "left": k.status == .running
                                ? (k.remainingMs < 0 ? "overdue by " : "") + Self.duration(abs(k.remainingMs)) + (k.remainingMs < 0 ? "" : " left") : "",
                        ]
                    },
                ]
            },
        ]
        if let s = score {
            data["score"] = [
                "grade": s.grade, "fit": String(format: "%.0f", s.fitPoints), "engagement": String(format: "%.1f", s.engagement), "version": s.version,
                "qualifies": s.qualifies, "rule": s.mqlRule, "persona": s.personaID ?? "", "personaReasons": s.personaReasons,
                "fitRules": s.fit.filter(\.matched).map {
                    ["rule": $0.ruleID, "attribute": $0.attribute, "value": $0.value ?? "", "points": Fmt.compact($0.points)]
                },
                "parts": s.engagementParts.map {
                    [
                        "rule": $0.rule, "count": $0.count, "granted": Fmt.compact($0.grantedPoints), "capped": Fmt.compact($0.cappedAway),
                        "now": String(format: "%.1f", $0.contributionNow),
                    ]
                },
                "chart": SVGChart.line(
                    s.history.map { (label: String($0.at.iso8601.prefix(10)), value: $0.engagement) },
                    title: "Engagement score over time",
                    unit: "points"
                ),
            ]
        }
        return .html(view("lead", data), title: data["name"] as? String)
    }

    static let leadsTemplate = """
        <h1>Leads</h1>
        <form class="filters" method="get" action="/leads" aria-label="Search and filters">
          <label>Search <input type="search" name="q" value="{{q}}" placeholder="name or email"></label>
          <label>Stage <select name="stage"{{#errStage}} aria-invalid="true"{{/errStage}}><option value="">any</option>{{#stages}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/stages}}</select>{{#errStage}}<span class="field-error">{{errStage}}</span>{{/errStage}}</label>
          <label>Owner <select name="owner"><option value="">anyone</option>{{#owners}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/owners}}</select></label>
          <label>Grade <select name="grade"><option value="">any</option>{{#grades}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/grades}}</select></label>
          <label>Persona <select name="persona"><option value="">any</option>{{#personas}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/personas}}</select></label>
          <label>Campaign <select name="campaign"><option value="">any</option>{{#campaigns}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/campaigns}}</select></label>
          <label>Stale for (days) <input type="number" name="stale" min="1" max="365" value="{{stale}}"{{#errStale}} aria-invalid="true" aria-describedby="err-stale"{{/errStale}}>{{#errStale}}<span class="field-error" id="err-stale">{{errStale}}</span>{{/errStale}}</label>
          <button type="submit">Filter</button>
        </form>
        {{#empty}}<p class="empty">No lead matches these filters.</p>{{/empty}}
        <div class="scroll"><table><thead><tr><th>Name</th><th>Account</th><th>Stage</th><th>Owner</th><th>Grade</th><th class="n">Engagement</th><th>Persona</th><th>Created</th></tr></thead><tbody>
        {{#rows}}<tr><td><a href="/leads/{{id}}">{{name}}</a><br><span class="muted">{{email}}</span></td><td>{{account}}</td><td>{{stage}}</td><td>{{owner}}</td><td>{{grade}}</td><td class="n">{{engagement}}</td><td>{{persona}}</td><td>{{created}}</td></tr>{{/rows}}
        </tbody></table></div>
        {{#next}}<p><a href="{{next}}" rel="next">Next page</a></p>{{/next}}
        """

    static let leadTemplate = """
        <h1>{{name}} <span class="pill">{{stage}}</span>{{#score}} <span class="pill">grade {{grade}}</span>{{/score}}</h1>
        <p class="muted">{{title}} · {{email}} · created {{created}}{{#channel}} · from {{channel}}{{/channel}}{{#campaign}} ({{campaign}}){{/campaign}}</p>
        <div class="grid">
        <section class="card"><h2>Owner and SLA</h2><p>Owner: <strong>{{owner}}</strong>{{^owner}}none yet{{/owner}}</p>
        {{#handovers}}<p>Handover {{id}}: {{status}} · {{owner}} · since {{created}}{{#rated}} · <strong>{{rated}}</strong>{{/rated}}</p>{{#canRate}}{{> rate-form}}{{/canRate}}<ul>{{#clocks}}<li>{{kind}}: {{status}}{{#left}}, <strong>{{left}}</strong>{{/left}} <span class="muted">(due {{due}})</span></li>{{/clocks}}</ul>{{/handovers}}
        {{^handovers}}<p class="empty">Never handed to sales.</p>{{/handovers}}</section>
        <section class="card"><h2>Account and opportunities</h2>{{#account}}<p><strong>{{name}}</strong> {{domain}} · {{industry}} · {{employees}} employees</p>{{/account}}{{^account}}<p class="empty">No account.</p>{{/account}}
        {{#hasOpps}}<table><thead><tr><th>Opportunity</th><th>Stage</th><th class="n">Amount</th><th>Close</th><th>Result</th></tr></thead><tbody>{{#opps}}<tr><td>{{name}}</td><td>{{stage}}</td><td class="n">{{amount}}</td><td>{{close}}</td><td>{{won}}</td></tr>{{/opps}}</tbody></table>{{/hasOpps}}</section>
        {{#score}}<section class="card"><h2>Score breakdown (model v{{version}})</h2>
        <p>Fit <strong>{{fit}}</strong> → grade <strong>{{grade}}</strong> · engagement <strong>{{engagement}}</strong> · {{#qualifies}}meets{{/qualifies}}{{^qualifies}}does not meet{{/qualifies}} the MQL rule <code>{{rule}}</code></p>
        <table><thead><tr><th>Fit rule</th><th>Attribute</th><th>Value</th><th class="n">Points</th></tr></thead><tbody>{{#fitRules}}<tr><td>{{rule}}</td><td>{{attribute}}</td><td>{{value}}</td><td class="n">{{points}}</td></tr>{{/fitRules}}</tbody></table>
        <table><thead><tr><th>Engagement rule</th><th class="n">Events</th><th class="n">Granted</th><th class="n">Capped away</th><th class="n">Now (decayed)</th></tr></thead><tbody>{{#parts}}<tr><td>{{rule}}</td><td class="n">{{count}}</td><td class="n">{{granted}}</td><td class="n">{{capped}}</td><td class="n">{{now}}</td></tr>{{/parts}}</tbody></table>
        </section>
        <section class="card"><h2>Score history</h2>{{{chart}}}</section>{{/score}}
        {{^score}}<section class="card"><h2>Score</h2><p class="empty">No scoring model is active, so this lead has no score yet (Settings → Scoring model).</p></section>{{/score}}
        </div>
        <section class="card"><h2>Timeline</h2><ol class="timeline">{{#timeline}}<li data-kind="{{kind}}"><span class="when">{{when}}</span>{{what}} <span class="muted">{{by}}</span></li>{{/timeline}}</ol></section>
        """
}

extension Optional {
    /// `map` with an async transform.
    func asyncMap<T>(_ f: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let v = self else { return nil }
        return try await f(v)
    }

}

extension WebApp {
    /// The reasons of a rating as the rating forms list them.
    static func ratingReasons(_ rating: LeadRatingValue) -> [[String: Any]] {
        LeadRatingReasons.all.filter { $0.rating == rating }.map { ["id": $0.id, "label": $0.label] }
    }

    /// One click from the inbox or the lead page: a reason (optional) and good or not good.
    static let rateFormTemplate = """
        <form method="post" action="/inbox/{{id}}/rate" class="inline rate" aria-label="Rate this lead"><input type="hidden" name="_csrf" value="{{csrf}}"><input type="hidden" name="back" value="{{back}}">
        <label>Why <select name="reason"><option value="">—</option><optgroup label="Good">{{#goodReasons}}<option value="good:{{id}}">{{label}}</option>{{/goodReasons}}</optgroup><optgroup label="Not good">{{#badReasons}}<option value="bad:{{id}}">{{label}}</option>{{/badReasons}}</optgroup></select></label>
        <button type="submit" name="rating" value="good" class="secondary" data-action="rate-good">Good lead</button><button type="submit" name="rating" value="bad" class="secondary" data-action="rate-bad">Not a good lead</button></form>
        """
}
