import Foundation
import Hummingbird
import SmarketingConnectors
import SmarketingCore
import SmarketingStore

extension WebApp {
    /// `/inbox`: the rep's open handovers by urgency (the store's inbox, as `/api/v1/inbox`), with
    /// one-click accept, qualify and reject forms that work without JavaScript.
    @Sendable func inbox(_ user: WebUser, _ request: Request, _ context: AppRequestContext) async throws -> PageOut {
        guard AccessPolicy.mayWorkHandovers(user.role) else {
            throw Problem(.forbidden, "The inbox is for sales reps, their managers and admins; your role is \(user.role.rawValue).")
        }
        let now = clock.now()
        var owner = user.actor.userID
        let users = try await cache.users(store)
        if let other = request.uri.queryParameters.get("user"), !other.isEmpty, other != owner {
            let manages = try await store.manages(userID: user.actor.userID, handoverOwner: other)
            guard user.role == .admin || manages else { throw Problem(.forbidden, "Only a rep's manager or an admin may open another rep's inbox.") }
            owner = other
        }
        let items = try await store.inbox(userID: owner, at: now, limit: 100)
        let reasons = try await rejectReasons()
        func name(_ id: String) -> String { users.first { $0.id == id }?["name"].text ?? id }
        let rows = items.map { item -> [String: Any] in
            let h = item.handover
            let clocks = h.clocks.filter { $0.status == .running || $0.status == .paused || $0.status == .breached }.map { c -> [String: Any] in
                let overdue = c.remainingMs < 0
                return [
                    "kind": c.kind.rawValue.replacingOccurrences(of: "_", with: " "), "left": Self.duration(abs(c.remainingMs)), "overdue": overdue,
                    "due": user.dateTime(c.dueAt), "status": c.status.rawValue, "business": c.business,
                ]
            }
            return [
                "id": h.id, "contactID": item.contact.id, "name": item.contact.name.isEmpty ? item.contact.email : item.contact.name,
                "title": item.contact.title ?? "", "account": item.contact.accountName ?? "", "grade": item.contact.grade ?? "–",
                "stage": item.contact.stage ?? "", "status": h.status.rawValue, "clocks": clocks, "why": item.why.map { InboxRules.localized($0, in: user.timeZone) },
                "hot": h.clocks.contains { $0.status == .breached || ($0.status == .running && $0.remainingMs < 3_600_000) },
                "hasContent": !item.recommendedContent.isEmpty,
                "content": item.recommendedContent.map { ["title": $0.title, "type": $0.type, "url": $0.url ?? ""] },
                "canAccept": h.status == .assigned, "canQualify": h.status == .accepted || h.status == .assigned,
                "canReject": h.status == .assigned || h.status == .accepted,
                "canRate": h.status == .accepted, "back": "/inbox" + (owner != user.actor.userID ? "?user=" + owner : ""),
                "goodReasons": Self.ratingReasons(.good), "badReasons": Self.ratingReasons(.bad), "csrf": user.session.csrf,
                "reasons": reasons.map { ["id": $0.id, "label": $0.label] },
                "touches": item.lastTouches.prefix(3).map { "\($0.type) \(user.dateTime($0.at))" },
            ]
        }
        var team: [[String: Any]] = []
        if user.isManager {
            let reports = users.filter { $0["manager_id"].text == user.actor.userID || (user.role == .admin && $0["team"].text == "sales") }
            team = ([user.actor.userID] + reports.map(\.id)).map { ["id": $0, "name": name($0), "selected": $0 == owner] }
        }
        // The owner's open action items from the weekly sync sit beside their leads until done.
        let settings = try await store.workspaceSettings().settings
        let actionItems = try await store.actionItems(ActionItemQuery(ownerID: owner, status: .open, limit: 100))
        let data: [String: Any] = [
            "actionItems": itemRows(actionItems, user, today: settings.today(now)).map { var r = $0; r["back"] = "/inbox"; return r },
            "hasActionItems": !actionItems.isEmpty,
            "owner": name(owner), "ownerID": owner, "items": rows, "empty": rows.isEmpty, "count": rows.count, "csrf": user.session.csrf,
            "team": team, "hasTeam": team.count > 1, "now": user.dateTime(now),
        ]
        return .html(view("inbox", data))
    }

    /// `POST /inbox/{id}/{accept|qualify|reject|pause|resume}`: the handover API's rules, then back to the inbox.
    func inboxAction(_ form: FormBody, _ context: AppRequestContext, _ user: WebUser) async throws -> Response {
        guard let raw = context.parameters.get("id"), let id = Int64(raw) else { throw Problem(.notFound, "No such handover.") }
        let now = clock.now()
        guard let h = try await store.handover(id: id, at: now) else { throw Problem(.notFound, "Handover \(id) does not exist.") }
        try await api.mayWork(h, user.actor)
        var back = "/inbox" + (h.ownerID != user.actor.userID ? "?user=\(h.ownerID)&" : "?")
        if let b = form["back"], b.hasPrefix("/leads/") { back = b + "?" }
        let note = form["note"]
        let contact = try await store.get(.contacts, id: h.contactID)
        let who = [contact?["first_name"].text, contact?["last_name"].text].compactMap { $0 }.joined(separator: " ")
        let done: String
        do {
            switch context.parameters.get("action") ?? "" {
            case "accept":
                _ = try await store.actOnHandover(id: id, action: .accept, note: note, actor: user.actor, at: now)
                done = "Accepted \(who)."
            case "qualify":
                _ = try await store.actOnHandover(id: id, action: .qualify, note: note, actor: user.actor, at: now)
                done = "Qualified \(who) as SQL."
            case "reject":
                guard let reason = form["reason"] else { return redirect(back + "bad=" + Self.query("Choose a reason to reject \(who).")) }
                _ = try await store.actOnHandover(id: id, action: .reject(reason: reason), note: note, actor: user.actor, at: now)
                done = "Rejected \(who)."
            case "rate":
                // The reason select carries the rating it belongs to ("bad:no_budget"); the button says which.
                guard let rating = LeadRatingValue(rawValue: form["rating"] ?? "") else { return redirect(back + "bad=" + Self.query("Choose good or not good.")) }
                var reason = form["reason"]
                if let r = reason, let colon = r.firstIndex(of: ":") {
                    guard r[..<colon] == rating.rawValue else {
                        return redirect(back + "bad=" + Self.query("“\(LeadRatingReasons.label(String(r[r.index(after: colon)...])))” is a reason for a \(r[..<colon] == "good" ? "good" : "not good") lead."))
                    }
                    reason = String(r[r.index(after: colon)...])
                }
                _ = try await store.rateLead(handoverID: id, rating: rating, reason: reason, actor: user.actor, at: now)
                done = "Rated \(who) as \(rating == .good ? "a good" : "not a good") lead."
            case "pause", "resume":
                _ = try await store.pauseHandover(id: id, pause: context.parameters.get("action") == "pause", actor: user.actor, at: now)
                done = "Clocks of \(who) \(context.parameters.get("action") == "pause" ? "paused" : "resumed")."
            default:
                throw Problem(.notFound, "No such action.")
            }
        } catch let e as StoreError {
            return redirect(back + "bad=" + Self.query(e.description))
        }
        return redirect(back + "ok=" + Self.query(done))
    }

    /// The rejection reasons of the active handover configuration, in its order.
    /// (The file is read once per configuration version, not on every inbox render.)
    func rejectReasons() async throws -> [RejectReason] {
        guard let (version, text) = try await store.activeHandoverConfigText() else { return [] }
        return try await cache.value("reject-reasons", version: Int64(version.version)) {
            guard case .success(let config) = HandoverConfigFile.read(text) else { return [] }
            return config.reasonOrder.compactMap { config.reasons[$0] }
        }
    }

    static func query(_ s: String) -> String { s.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "" }

    static func duration(_ ms: Int64) -> String {
        let minutes = ms / 60_000
        if minutes < 60 { return "\(minutes) min" }
        if minutes < 48 * 60 { return "\(minutes / 60) h \(minutes % 60) min" }
        return "\(minutes / 1440) days"
    }


    static let inboxTemplate = """
        <h1>Inbox of {{owner}} <span class="muted">({{count}} open)</span></h1>
        {{#hasTeam}}<form class="filters" method="get" action="/inbox"><label>Rep <select name="user" data-autosubmit>{{#team}}<option value="{{id}}"{{#selected}} selected{{/selected}}>{{name}}</option>{{/team}}</select></label><button type="submit" class="secondary">Open</button></form>{{/hasTeam}}
        {{#hasActionItems}}<section class="card" aria-labelledby="ai-h"><h2 id="ai-h">Action items from the weekly sync</h2><ul class="action-items">{{#actionItems}}{{> action-item}}{{/actionItems}}</ul></section>{{/hasActionItems}}
        {{#empty}}<p class="empty">Nothing waiting. New MQLs appear here as soon as they are routed to you.</p>{{/empty}}
        {{#items}}<article class="card inbox-item" id="handover-{{id}}" data-handover="{{id}}">
        <div><h2><a href="/leads/{{contactID}}">{{name}}</a> <span class="pill{{#hot}} hot{{/hot}}">grade {{grade}}</span> <span class="pill">{{status}}</span></h2>
        <p class="muted">{{title}}{{#account}} · {{account}}{{/account}}</p>
        <ul class="clocks">{{#clocks}}<li>{{kind}}: {{#overdue}}<strong class="error">overdue by {{left}}</strong>{{/overdue}}{{^overdue}}<strong>{{left}} left</strong>{{/overdue}} <span class="muted">(due {{due}}{{#business}}, business hours{{/business}}{{#status}}, {{status}}{{/status}})</span></li>{{/clocks}}</ul>
        <p><strong>Why it is hot:</strong></p><ul>{{#why}}<li>{{.}}</li>{{/why}}</ul>
        {{#hasContent}}<p><strong>Send:</strong></p>{{/hasContent}}<ul>{{#content}}<li>{{#url}}<a href="{{url}}">{{title}}</a>{{/url}}{{^url}}{{title}}{{/url}} <span class="muted">{{type}}</span></li>{{/content}}</ul>
        </div>
        <div class="actions">
        {{#canAccept}}<form method="post" action="/inbox/{{id}}/accept"><input type="hidden" name="_csrf" value="{{csrf}}"><button type="submit" data-action="accept">Accept</button></form>{{/canAccept}}
        {{#canQualify}}<form method="post" action="/inbox/{{id}}/qualify"><input type="hidden" name="_csrf" value="{{csrf}}"><button type="submit" class="secondary" data-action="qualify">Qualify (SQL)</button></form>{{/canQualify}}
        {{#canRate}}{{> rate-form}}{{/canRate}}
        {{#canReject}}<form method="post" action="/inbox/{{id}}/reject"><input type="hidden" name="_csrf" value="{{csrf}}"><label>Reason <select name="reason" required><option value="">choose…</option>{{#reasons}}<option value="{{id}}">{{label}}</option>{{/reasons}}</select></label><button type="submit" class="danger" data-action="reject">Reject</button></form>{{/canReject}}
        </div></article>{{/items}}
        """
}
