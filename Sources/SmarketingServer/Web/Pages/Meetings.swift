import Foundation
import Hummingbird
import SmarketingConnectors
import SmarketingCore
import SmarketingStore

extension WebApp {
    /// The agenda's leaks and killers, kept until the aggregates change: a meeting page reloads
    /// after every decision and item, and the killers replay every journey.
    func agendaFindings() async throws -> WeeklySync.Findings {
        let version = try await store.kpiVersion()
        let store = self.store
        let cache = self.cache
        let now = clock.now()
        return { period in
            try await cache.value("agenda-findings:\(period.from.text):\(period.to.text)", version: version) {
                let f = try await WeeklySync.findings(store, period: period, now: now)
                return FindingsBox(leaks: f.leaks, killers: f.killers)
            }.pair
        }
    }

    /// `/meetings`: the weekly sync — the week's agenda from live data (the API's `/api/v1/agenda`),
    /// the open action items with one-click "done", a button that opens the meeting, past minutes.
    @Sendable func meetings(_ user: WebUser, _ request: Request, _ context: AppRequestContext) async throws -> PageOut {
        let now = clock.now()
        let settings = try await store.workspaceSettings().settings
        var week = WeeklySync.currentWeek(settings, now: now)
        if let text = request.uri.queryParameters.get("week"), !text.isEmpty {
            week = try AgendaWeek.parse(text).orThrow(Problem(.unprocessableContent, "“\(text.prefix(40))” is not an ISO week such as 2026-W49."))
        }
        let agenda = try await WeeklySync.agenda(store, week: week, now: now, findings: try await agendaFindings())
        let blocks = try await WeeklySync.document(store, agenda: agenda, meeting: nil, zone: user.timeZone)
        let past = try await store.meetings(limit: 20, before: nil)
        let data: [String: Any] = [
            "week": week.description, "previous": week.adding(weeks: -1).description, "next": week.adding(weeks: 1).description,
            "agenda": AgendaText.html(Array(blocks.dropFirst())), "csrf": user.session.csrf, "canRun": AccessPolicy.mayRunMeetings(user.role),
            "items": itemRows(agenda.actionItems, user, today: settings.today(now)), "hasItems": !agenda.actionItems.isEmpty,
            "overdue": agenda.overdueItems,
            "meetings": past.map {
                [
                    "id": $0.id, "week": $0.week, "title": $0.title, "status": $0.status.rawValue, "finished": $0.status == .finished,
                    "when": user.dateTime($0.createdAt), "decisions": $0.decisions.count,
                ] as [String: Any]
            },
            "hasMeetings": !past.isEmpty,
        ]
        return .html(view("meetings", data), title: "Weekly sync \(week)")
    }

    /// `/meetings/{id}`: one meeting — record attendees, decisions, action items and notes while it
    /// is open; the minutes (the agenda as discussed) once finished, with Markdown and HTML downloads.
    @Sendable func meetingPage(_ user: WebUser, _ request: Request, _ context: AppRequestContext) async throws -> PageOut {
        guard let raw = context.parameters.get("id"), let id = Int64(raw), let m = try await store.meeting(id: id) else {
            throw Problem(.notFound, "No such meeting.")
        }
        let now = clock.now()
        let agenda = try await WeeklySync.agenda(store, of: m, now: now, findings: try await agendaFindings())
        let blocks = try await WeeklySync.document(store, agenda: agenda, meeting: m, zone: user.timeZone)
        let users = try await cache.users(store)
        let settings = try await store.workspaceSettings().settings
        let agreed = try await store.actionItems(ActionItemQuery(meetingID: m.id, limit: 1_000))
        let open = m.status == .open && AccessPolicy.mayRunMeetings(user.role)
        let data: [String: Any] = [
            "id": m.id, "week": m.week, "title": m.title, "open": open, "finished": m.status == .finished,
            "finishedAt": m.finishedAt.map(user.dateTime) as Any, "csrf": user.session.csrf,
            "users": users.filter { ($0["active"].text ?? "true") != "false" }.sorted { $0.id < $1.id }.map {
                ["id": $0.id, "name": $0["name"].text ?? $0.id, "team": $0["team"].text ?? "", "attended": m.attendees.contains($0.id)] as [String: Any]
            },
            "decisions": m.decisions, "notes": m.notes, "items": itemRows(agreed, user, today: settings.today(now)), "hasItems": !agreed.isEmpty,
            "defaultDue": settings.today(now).adding(days: 7).text,
            "minutes": AgendaText.html(blocks),
        ]
        return .html(view("meeting", data), title: "\(m.title) \(m.week)")
    }

    /// `/meetings/{id}/minutes/md` and `/html`: the minutes as a file.
    @Sendable func meetingMinutes(_ user: WebUser, _ request: Request, _ context: AppRequestContext) async throws -> PageOut {
        guard let raw = context.parameters.get("id"), let id = Int64(raw), let m = try await store.meeting(id: id) else {
            throw Problem(.notFound, "No such meeting.")
        }
        let format = context.parameters.get("format") ?? "md"
        guard format == "md" || format == "html" else { throw Problem(.notFound, "Minutes come as .md or .html.") }
        let agenda = try await WeeklySync.agenda(store, of: m, now: clock.now(), findings: try await agendaFindings())
        let blocks = try await WeeklySync.document(store, agenda: agenda, meeting: m, zone: user.timeZone)
        let text =
            format == "md"
            ? AgendaText.markdown(blocks)
            : "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>\(AgendaText.escape(m.title)) \(m.week)</title></head><body>\n"
                + AgendaText.html(blocks) + "</body></html>\n"
        var headers: HTTPFields = [
            .contentType: format == "md" ? "text/markdown; charset=utf-8" : "text/html; charset=utf-8",
            .contentDisposition: "attachment; filename=\"minutes-\(m.week)-\(m.id).\(format)\"", .cacheControl: "no-store",
            .xContentTypeOptions: "nosniff",
        ]
        headers[.contentSecurityPolicy] = "default-src 'none'"
        return .response(Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text))))
    }

    /// `POST /meetings/start`, `POST /meetings/{id}/{attendees|decide|item|notes|finish}`,
    /// `POST /action-items/{id}/{done|reopen}`: the store's rules, then back with a message.
    func meetingAction(_ form: FormBody, _ context: AppRequestContext, _ user: WebUser, items: Bool, start: Bool = false) async throws -> Response {
        guard AccessPolicy.mayRunMeetings(user.role) else { throw Problem(.forbidden, "Viewers read the weekly sync; they do not record it.") }
        let now = clock.now()
        let action = context.parameters.get("action") ?? ""
        let raw = start ? "start" : context.parameters.get("id") ?? ""
        let back = form["back"].flatMap { $0.hasPrefix("/meetings") || $0.hasPrefix("/inbox") || $0 == "/" ? $0 : nil } ?? "/meetings"
        let sep = back.contains("?") ? "&" : "?"
        do {
            if items {
                guard let id = Int64(raw) else { throw Problem(.notFound, "No such action item.") }
                let status: ActionItem.Status = action == "done" ? .done : action == "reopen" ? .open : .open
                guard action == "done" || action == "reopen" else { throw Problem(.notFound, "No such action.") }
                let item = try await store.setActionItem(id: id, status: status, actor: user.actor, at: now)
                return redirect(back + sep + "ok=" + Self.query("“\(item.title)” is \(item.status == .done ? "done" : "open again")."))
            }
            if raw == "start" {
                let week = try AgendaWeek.parse(form["week"] ?? "").orThrow(Problem(.unprocessableContent, "Choose an ISO week such as 2026-W49."))
                let m = try await store.createMeeting(week: week, title: form["title"] ?? "Weekly sync", attendees: [user.actor.userID], actor: user.actor, at: now)
                return redirect("/meetings/\(m.id)?ok=" + Self.query("Meeting opened for \(m.week). Record who attended, decisions and action items."))
            }
            guard let id = Int64(raw) else { throw Problem(.notFound, "No such meeting.") }
            let page = "/meetings/\(id)"
            switch action {
            case "attendees":
                let ids = form.fields.keys.filter { $0.hasPrefix("attendee_") }.map { String($0.dropFirst("attendee_".count)) }.sorted()
                _ = try await store.changeMeeting(id: id, MeetingChange(attendees: ids), actor: user.actor, at: now)
                return redirect(page + "?ok=" + Self.query("\(ids.count) attendee(s) recorded."))
            case "decide":
                _ = try await store.changeMeeting(id: id, MeetingChange(decision: form["decision"] ?? ""), actor: user.actor, at: now)
                return redirect(page + "?ok=" + Self.query("Decision recorded."))
            case "notes":
                _ = try await store.changeMeeting(id: id, MeetingChange(notes: form.fields["notes"] ?? ""), actor: user.actor, at: now)
                return redirect(page + "?ok=" + Self.query("Notes saved."))
            case "item":
                let settings = try await store.workspaceSettings().settings
                let due: LocalDate
                switch MeetingRules.due(form["due"] ?? "", today: settings.today(now)) {
                case .success(let d): due = d
                case .failure(let p): return redirect(page + "?bad=" + Self.query(p.description.prefix(1).uppercased() + p.description.dropFirst() + "."))
                }
                let item = try await store.createActionItem(
                    ActionItemDraft(title: form["title"] ?? "", ownerID: form["owner"] ?? "", due: due, meetingID: id),
                    actor: user.actor,
                    at: now
                )
                return redirect(page + "?ok=" + Self.query("Action item for \(item.ownerName ?? item.ownerID), due \(item.due.text)."))
            case "finish":
                let m = try await WeeklySync.finish(store, id: id, actor: user.actor, now: now, findings: try await agendaFindings())
                return redirect(page + "?ok=" + Self.query("Meeting finished with \(m.decisions.count) decision(s); the minutes are kept below."))
            default:
                throw Problem(.notFound, "No such action.")
            }
        } catch let e as StoreError {
            let page = items || raw == "start" ? back : "/meetings/\(raw)"
            let text = e.description
            return redirect(page + (page.contains("?") ? "&" : "?") + "bad=" + Self.query(text.prefix(1).uppercased() + text.dropFirst()))
        }
    }

    /// Action items as the templates show them.
    func itemRows(_ items: [ActionItem], _ user: WebUser, today: LocalDate) -> [[String: Any]] {
        items.map {
            [
                "id": $0.id, "title": $0.title, "owner": $0.ownerName ?? $0.ownerID, "due": $0.due.text, "overdue": $0.isOverdue(today: today),
                "done": $0.status == .done, "meeting": $0.meetingID as Any, "canAct": AccessPolicy.mayRunMeetings(user.role),
                "csrf": user.session.csrf,
            ]
        }
    }

    static let meetingsTemplate = """
        <h1>Weekly sync {{week}}</h1>
        <nav class="week-nav" aria-label="Weeks"><a href="/meetings?week={{previous}}">← {{previous}}</a> · <a href="/meetings">this week</a> · <a href="/meetings?week={{next}}">{{next}} →</a></nav>
        {{#canRun}}<form method="post" action="/meetings/start" class="inline"><input type="hidden" name="_csrf" value="{{csrf}}"><input type="hidden" name="week" value="{{week}}"><label>Title <input name="title" value="Weekly sync" maxlength="200" required></label><button type="submit" data-action="start-meeting">Start the meeting for {{week}}</button></form>{{/canRun}}
        <section class="card" aria-labelledby="items-h"><h2 id="items-h">Open action items {{#overdue}}<span class="pill hot">{{overdue}} overdue</span>{{/overdue}}</h2>
        {{^hasItems}}<p class="empty">No open action items.</p>{{/hasItems}}
        <ul class="action-items">{{#items}}{{> action-item}}{{/items}}</ul></section>
        <section class="agenda card" aria-label="Agenda">{{{agenda}}}</section>
        <section class="card" aria-labelledby="past-h"><h2 id="past-h">Meetings</h2>{{^hasMeetings}}<p class="empty">No meetings yet.</p>{{/hasMeetings}}
        <ul>{{#meetings}}<li><a href="/meetings/{{id}}">{{title}} {{week}}</a> <span class="pill">{{status}}</span> <span class="muted">{{when}} · {{decisions}} decision(s)</span>{{#finished}} · <a href="/meetings/{{id}}/minutes/md">Markdown</a> · <a href="/meetings/{{id}}/minutes/html">HTML</a>{{/finished}}</li>{{/meetings}}</ul></section>
        """

    static let actionItemTemplate = """
        <li class="action-item{{#overdue}} overdue{{/overdue}}" data-item="{{id}}"><span>{{#done}}✓ {{/done}}<strong>{{title}}</strong>: {{owner}}, due {{due}}{{#overdue}} <strong class="error">overdue</strong>{{/overdue}}{{#meeting}} <a class="muted" href="/meetings/{{meeting}}">meeting {{meeting}}</a>{{/meeting}}</span>
        {{#canAct}}{{^done}}<form method="post" action="/action-items/{{id}}/done" class="inline"><input type="hidden" name="_csrf" value="{{csrf}}"><input type="hidden" name="back" value="{{back}}"><button type="submit" class="secondary" data-action="done">Done</button></form>{{/done}}{{/canAct}}</li>
        """

    static let meetingTemplate = """
        <h1>{{title}} {{week}} {{#finished}}<span class="pill">finished {{finishedAt}}</span>{{/finished}}{{#open}}<span class="pill hot">in progress</span>{{/open}}</h1>
        {{#finished}}<p><a href="/meetings/{{id}}/minutes/md" data-download="md">Minutes as Markdown</a> · <a href="/meetings/{{id}}/minutes/html" data-download="html">as HTML</a></p>{{/finished}}
        {{#open}}<div class="meeting-forms">
        <form method="post" action="/meetings/{{id}}/attendees" class="card"><input type="hidden" name="_csrf" value="{{csrf}}"><fieldset><legend>Attended</legend>
        {{#users}}<label class="check"><input type="checkbox" name="attendee_{{id}}"{{#attended}} checked{{/attended}}> {{name}} <span class="muted">{{team}}</span></label>{{/users}}</fieldset><button type="submit" class="secondary" data-action="attendees">Save attendees</button></form>
        <form method="post" action="/meetings/{{id}}/decide" class="card"><input type="hidden" name="_csrf" value="{{csrf}}"><label>Decision <textarea name="decision" rows="2" maxlength="2000" required></textarea></label><button type="submit" data-action="decide">Record decision</button></form>
        <form method="post" action="/meetings/{{id}}/item" class="card"><input type="hidden" name="_csrf" value="{{csrf}}"><label>Action item <input name="title" maxlength="200" required></label>
        <label>Owner <select name="owner" required><option value="">choose…</option>{{#users}}<option value="{{id}}">{{name}}</option>{{/users}}</select></label>
        <label>Due <input type="date" name="due" value="{{defaultDue}}" required></label><button type="submit" data-action="add-item">Add action item</button></form>
        <form method="post" action="/meetings/{{id}}/notes" class="card"><input type="hidden" name="_csrf" value="{{csrf}}"><label>Notes <textarea name="notes" rows="4" maxlength="20000">{{notes}}</textarea></label><button type="submit" class="secondary" data-action="notes">Save notes</button></form>
        <form method="post" action="/meetings/{{id}}/finish" class="card"><input type="hidden" name="_csrf" value="{{csrf}}"><p>Finishing keeps the agenda's figures as they are now and sends the minutes to the <code>meeting.finished</code> webhooks.</p><button type="submit" class="danger" data-action="finish">Finish the meeting</button></form>
        </div>{{/open}}
        <section class="card" aria-labelledby="agreed-h"><h2 id="agreed-h">Action items of this meeting</h2>{{^hasItems}}<p class="empty">None yet.</p>{{/hasItems}}<ul class="action-items">{{#items}}{{> action-item}}{{/items}}</ul></section>
        <section class="agenda card minutes" aria-label="Minutes">{{{minutes}}}</section>
        """
}

/// The agenda's findings as a cache value.
struct FindingsBox: Sendable {
    var leaks: [String]
    var killers: [WeeklyAgenda.Killer]
    var pair: (leaks: [String], killers: [WeeklyAgenda.Killer]) { (leaks, killers) }
}
