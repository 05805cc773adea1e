import Foundation
import HTTPTypes
import Hummingbird
import SmarketingConnectors
import SmarketingCore
import SmarketingStore

extension WebApp {
    /// The settings sections and who may open them: admins all, marketing the scoring model.
    static let settingsSections: [(id: String, label: String)] = [
        ("users", "Users and roles"), ("tokens", "API tokens"), ("webhooks", "Webhooks"), ("connections", "Connections"), ("scoring", "Scoring model"),
        ("routing", "Routing and SLA"), ("targets", "Targets"), ("owners", "Owners"), ("workspace", "Workspace"),
    ]

    static func maySee(_ user: WebUser, section: String) -> Bool {
        section == "scoring" ? AccessPolicy.mayChangeScoring(user.role) : AccessPolicy.mayAdminister(user.role)
    }

    @Sendable func settings(_ user: WebUser, _ request: Request, _ context: AppRequestContext) async throws -> PageOut {
        guard let section = context.parameters.get("section") else {
            guard let first = Self.settingsSections.first(where: { Self.maySee(user, section: $0.id) }) else {
                throw Problem(.forbidden, "Settings are for admins (and the scoring model for marketing); your role is \(user.role.rawValue).")
            }
            return .response(redirect("/settings/" + first.id))
        }
        var extra: [String: Any] = [:]
        let q = request.uri.queryParameters
        if section == "scoring", let job = q.get("job"), let j = api.jobs.get(job) {
            extra["job"] = ["id": j.id, "status": j.status, "done": j.done, "total": j.total, "error": j.error ?? "", "running": j.status == "running"]
        }
        if section == "webhooks", let id = q.get("deliveries") { extra["deliveriesOf"] = id }
        if section == "workspace", let job = q.get("job") { extra["job"] = job }
        return try await settingsPage(user, section, extra)
    }

    /// Renders a settings section; `extra` carries a form's errors, its submitted values and
    /// one-time secrets.
    func settingsPage(_ user: WebUser, _ section: String, _ extra: [String: Any], status: HTTPResponse.Status = .ok) async throws -> PageOut {
        guard Self.settingsSections.contains(where: { $0.id == section }) else { throw Problem(.notFound, "There is no settings section “\(section)”.") }
        guard Self.maySee(user, section: section) else { throw Problem(.forbidden, "Your role (\(user.role.rawValue)) may not open these settings.") }
        var data = extra
        data["csrf"] = user.session.csrf
        data["tabs"] = Self.settingsSections.filter { Self.maySee(user, section: $0.id) }.map { ["id": $0.id, "label": $0.label, "current": $0.id == section] }
        data["section"] = Self.settingsSections.first { $0.id == section }!.label
        data["is_" + section] = true
        let users = try await cache.users(store)
        let userOptions = users.map { ["id": $0.id, "label": ($0["name"].text ?? $0.id) + " <" + ($0["email"].text ?? "") + ">"] }
        switch section {
        case "users":
            data["users"] = users.map { u -> [String: Any] in
                let role = u["access_role"].text ?? AccessRole.defaultFor(team: u["team"].text).rawValue
                return [
                    "id": u.id, "name": u["name"].text ?? u.id, "email": u["email"].text ?? "", "team": u["team"].text ?? "",
                    "roles": AccessRole.allCases.map { ["value": $0.rawValue, "selected": $0.rawValue == role] },
                ]
            }
        case "tokens":
            data["tokens"] = try await store.tokens().map { t -> [String: Any] in
                [
                    "id": t.id, "name": t.name, "user": users.first { $0.id == t.userID }?["name"].text ?? t.userID, "role": t.role.rawValue,
                    "created": user.dateTime(t.createdAt), "revoked": t.revokedAt.map(user.dateTime) as Any,
                ]
            }
            data["userOptions"] = userOptions
            data["roles"] = AccessRole.allCases.map(\.rawValue)
        case "webhooks":
            let hooks = try await store.webhooks()
            data["hooks"] = hooks.map { ["id": $0.id, "url": $0.url, "events": $0.events.joined(separator: ", "), "format": $0.format, "active": $0.active] }
            data["events"] = WebhookEvents.all.joined(separator: ", ")
            if let id = extra["deliveriesOf"] as? String {
                data["deliveries"] = try await store.deliveries(subscriptionID: id, status: nil, limit: 50).map { d -> [String: Any] in
                    [
                        "id": d.id, "event": d.eventType, "status": d.status, "attempts": d.attempts, "code": d.lastStatus.map(String.init) ?? "",
                        "error": d.lastError ?? "", "delivered": d.deliveredAt.map(user.dateTime) ?? "",
                    ]
                }
                data["deliveriesURL"] = hooks.first { $0.id == id }?.url ?? id
            }
        case "connections":
            guard let service = api.connections else {
                data["connectionsOff"] = true
                break
            }
            data["canSync"] = api.scheduler != nil
            var rows: [[String: Any]] = []
            for c in try await service.store.connections() {
                let runs = try await service.store.syncRuns(connection: c.name, limit: 1)
                rows.append([
                    "name": c.name, "vendor": c.vendor.displayName, "status": c.status, "lastSync": c.lastSyncAt.map(user.dateTime) ?? "never",
                    "read": c.counts.read, "created": c.counts.created, "updated": c.counts.updated, "merged": c.counts.merged,
                    "skipped": c.counts.skipped, "error": c.lastError ?? "", "running": runs.first?.status == "running",
                    "hook": "/hooks/" + c.name,
                ])
            }
            data["connections"] = rows
        case "scoring":
            let active = try await store.activeScoringVersion()
            if data["model"] == nil { data["model"] = active?.text ?? "" }
            data["active"] = active.map { ["version": $0.version, "author": $0.author, "comment": $0.comment] } as Any
            data["versions"] = try await store.scoringVersions().suffix(10).reversed().map {
                ["version": $0.version, "status": $0.status, "author": $0.author, "comment": $0.comment, "at": user.dateTime($0.appliedAt ?? $0.createdAt)]
            }
        case "routing":
            let active = try await store.activeHandoverConfigText()
            if data["config"] == nil { data["config"] = active?.1 ?? "" }
            data["active"] = active.map { ["version": $0.0.version, "author": $0.0.author, "comment": $0.0.comment] } as Any
            data["versions"] = try await store.handoverConfigVersions().suffix(10).reversed().map {
                ["version": $0.version, "author": $0.author, "comment": $0.comment, "at": user.dateTime($0.appliedAt), "active": $0.active]
            }
        case "owners":
            let users = try await cache.users(store).sorted { $0.id < $1.id }
            data["owners"] = try await store.owners().map { o -> [String: Any] in
                [
                    "subject": o.subject, "label": o.label, "kind": o.kind, "isDefault": o.isDefault, "csrf": user.session.csrf,
                    "teams": OwnedSubjects.teams.map { ["value": $0, "label": OwnedSubjects.teamLabel($0), "selected": $0 == o.team] },
                    "people": users.map { ["id": $0.id, "name": $0["name"].text ?? $0.id, "selected": $0.id == o.responsible] },
                    "accountable": users.map { ["id": $0.id, "name": $0["name"].text ?? $0.id, "selected": $0.id == o.accountable] },
                    "consulted": o.consulted.joined(separator: ", "), "informed": o.informed.joined(separator: ", "),
                ]
            }
        case "workspace":
            if let id = extra["job"] as? String, let job = api.jobs.get(id) {
                let share = job.total > 0 ? " (\(Int(Double(job.done) / Double(job.total) * 100)) %)" : ""
                data["job"] = [
                    "running": job.status == "running", "failed": job.status == "failed",
                    "text": job.status == "running"
                        ? "Rebuilding the KPI figures for the new settings — \(job.phase ?? "starting")" + (job.phase == "contacts" ? ": \(Fmt.int(job.done)) of \(Fmt.int(job.total)) contacts\(share)" : "")
                            + ". The figures you see stay the old ones until it is done."
                        : job.status == "failed" ? "The change was not applied: \(job.error ?? "unknown error")" : (job.message ?? "Done."),
                ] as [String: Any]
            }
            let current = try await store.workspaceSettings()
            let errorKeys = extra["errorKeys"] as? Set<String> ?? []
            let submitted = extra["submitted"] as? [String: String] ?? [:]
            data["settingsVersion"] = current.version
            data["fields"] = WorkspaceSettingKey.allCases.map { k -> [String: Any] in
                [
                    "key": k.rawValue, "id": k.rawValue.replacingOccurrences(of: ".", with: "-"), "value": submitted[k.rawValue] ?? current.settings[k],
                    "summary": k.summary, "isDefault": submitted[k.rawValue] == nil && current.settings[k] == k.defaultValue,
                    "error": errorKeys.contains(k.rawValue),
                ]
            }
        default:  // targets
            var tq = ListQuery()
            tq.limit = 500
            tq.sort = "period"
            tq.descending = true
            data["targets"] = try await store.list(.targets, tq).records.map {
                [
                    "period": $0["period"].csvText, "metric": $0["metric"].text ?? "", "value": Fmt.compact($0["value"].double ?? 0),
                    "segment": $0["segment"].text ?? "",
                ]
            }
            // MQL targets are the ones set every month: the form starts on them.
            let chosen = (extra["metric"] as? String).flatMap { $0.isEmpty ? nil : $0 } ?? "mqls"
            data["metrics"] = Resource.targets.schema.choices("metric").map { (m: String) -> [String: Any] in ["value": m, "selected": m == chosen] }
        }
        return .html(view("settings", data), title: "Settings · " + (data["section"] as! String), status: status)
    }

    /// `POST /settings/{section}/{action}`.
    func settingsAction(_ form: FormBody, _ context: AppRequestContext, _ user: WebUser) async throws -> Response {
        let section = context.parameters.get("section") ?? ""
        let action = context.parameters.get("action") ?? ""
        guard Self.maySee(user, section: section) else { throw Problem(.forbidden, "Your role (\(user.role.rawValue)) may not change these settings.") }
        let now = clock.now()
        let back = "/settings/" + section
        func page(_ extra: [String: Any], _ status: HTTPResponse.Status = .unprocessableContent) async throws -> Response {
            guard case .html(let html, let title, let s) = try await settingsPage(user, section, extra, status: status) else { return redirect(back) }
            return render(user, title: title ?? "Settings", path: back, body: html, flash: nil, status: s)
        }
        switch (section, action) {
        case ("owners", "save"):
            func list(_ key: String) -> [String] {
                (form.fields[key] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            }
            let subject = form["subject"] ?? ""
            do {
                let o = try await store.setOwner(
                    OwnerChange(
                        subject: subject, team: form["team"], responsible: form.fields["responsible"] ?? "", accountable: form.fields["accountable"] ?? "",
                        consulted: list("consulted"), informed: list("informed")
                    ),
                    actor: user.actor,
                    at: now
                )
                return redirect(back + "?ok=" + Self.query("\(o.label): \(o.shortText)."))
            } catch let e as StoreError {
                return redirect(back + "?bad=" + Self.query(e.description))
            }
        case ("users", "role"):
            guard let id = form["user_id"], let role = form["access_role"].flatMap(AccessRole.init(rawValue:)) else {
                return try await page(["roleError": "Choose a user and a role."])
            }
            _ = try await store.update(.users, id: id, fields: ["access_role": .text(role.rawValue)], actor: user.actor, at: now)
            cache.forgetUsers()
            return redirect(back + "?ok=" + Self.query("\(id) is now \(role.rawValue)."))
        case ("users", "password"):
            guard let id = form["user_id"] else { return try await page(["passwordError": "Choose a user."]) }
            let password = form.raw("password") ?? ""
            guard password.count >= 10 else {
                return try await page(["passwordError": "A password needs at least 10 characters.", "passwordUser": id])
            }
            try await store.setPasswordHash(userID: id, hash: PasswordHash.make(password), actor: user.actor, at: now)
            return redirect(back + "?ok=" + Self.query("Password of \(id) set."))
        case ("tokens", "create"):
            guard let uid = form["user_id"], let role = form["role"].flatMap(AccessRole.init(rawValue:)) else {
                return try await page(["tokenError": "Choose a user and a role."])
            }
            guard let name = form["name"] else { return try await page(["tokenError": "Give the token a name (what uses it)."]) }
            let token = APIToken.generate()
            _ = try await store.createToken(userID: uid, role: role, name: name, hash: APIToken.hash(token), actor: user.actor, at: now)
            // Shown once, on this response only; the store keeps its hash.
            return try await page(["newToken": token, "newTokenName": name], .created)
        case ("connections", "sync"):
            guard let name = form["name"], let scheduler = api.scheduler else { return redirect(back) }
            guard try await api.connections?.store.connection(named: name) != nil else { return redirect(back) }
            let started = await scheduler.startNow(name, full: form["full"] == "true")
            return redirect(back + "?ok=" + Self.query(started ? "Syncing \(name) now; refresh to see the outcome." : "A sync of \(name) is already running."))
        case ("tokens", "revoke"):
            guard let id = form["id"] else { return redirect(back) }
            try await store.revokeToken(id: id, actor: user.actor, at: now)
            api.tokenCache.clear()
            return redirect(back + "?ok=" + Self.query("Token revoked."))
        case ("webhooks", "create"):
            let events = (form["events"] ?? "").split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init)
            do {
                let (url, format, secret) = try WebhookInput.check(url: form["url"], events: events, format: form["format"], secret: nil, allowPrivate: api.allowPrivateURLs)
                let sub = try await store.createWebhook(
                    url: url, events: events, format: format, secret: try WebhookSecret.seal(secret, with: api.connections?.box), actor: user.actor, at: now
                )
                return try await page(["newSecret": secret, "newHook": sub.url], .created)
            } catch let p as Problem {
                let field = p.detail.hasPrefix("url") ? "urlError" : p.detail.hasPrefix("format") ? "formatError" : "eventsError"
                return try await page([field: p.detail, "formURL": form["url"] ?? "", "formEvents": form["events"] ?? ""])
            }
        case ("webhooks", "delete"):
            guard let id = form["id"] else { return redirect(back) }
            try await store.deactivateWebhook(id: id, actor: user.actor, at: now)
            return redirect(back + "?ok=" + Self.query("Subscription stopped."))
        case ("scoring", _):
            let text = form.raw("model") ?? ""
            guard let model = try scoringProblems(text) else {
                return try await page(["model": text, "problems": Self.problemRows(ScoringModelFile.read(text)), "invalid": true])
            }
            switch action {
            case "apply":
                let store = self.store
                let comment = form["comment"] ?? "applied in the web app"
                let actor = user.actor
                let id = api.startJob { progress in
                    try await store.applyScoringModel(text: text, model: model, comment: comment, actor: actor, at: now, progress: progress)
                }
                return redirect(back + "?job=" + id + "&ok=" + Self.query("Applying the model; contacts are being rescored."))
            case "preview":
                let diff = try await store.scoringDiff(model, at: now, progress: nil)
                return try await page(
                    [
                        "model": text, "valid": true,
                        "diff": [
                            "contacts": Fmt.int(diff.contacts), "gradeChanged": Fmt.int(diff.gradeChanged), "newMQLs": Fmt.int(diff.newMQLs),
                            "stop": Fmt.int(diff.stopQualifying), "personaChanged": Fmt.int(diff.personaChanged),
                            "moves": diff.gradeMoves.sorted { $0.key < $1.key }.map { ["move": $0.key, "count": Fmt.int($0.value)] },
                        ],
                    ],
                    .ok
                )
            default:
                return try await page(["model": text, "valid": true], .ok)
            }
        case ("routing", _):
            let text = form.raw("config") ?? ""
            switch HandoverConfigFile.read(text) {
            case .failure(let p):
                return try await page([
                    "config": text, "problems": p.problems.map { ["line": $0.line, "column": $0.column, "message": $0.message] }, "invalid": true,
                ])
            case .success(let config):
                if action == "apply" {
                    _ = try await store.applyHandoverConfig(
                        text: text,
                        config: config,
                        comment: form["comment"] ?? "applied in the web app",
                        actor: user.actor,
                        at: now
                    )
                    return redirect(back + "?ok=" + Self.query("Routing and SLA configuration applied."))
                }
                let old = (try await store.activeHandoverConfigText())?.1 ?? ""
                return try await page(
                    [
                        "config": text, "valid": true,
                        "summary": "\(config.teams.count) teams, \(config.calendars.count) calendars, \(config.policies.count) SLA policies",
                        "diffLines": Self.lineDiff(old, text), "hasDiff": old != text,
                    ],
                    .ok
                )
            }
        case ("targets", "save"):
            var errors: [String: Any] = [
                "formPeriod": form["period"] ?? "", "formValue": form["value"] ?? "", "formSegment": form["segment"] ?? "", "metric": form["metric"] ?? "",
            ]
            let period = form["period"] ?? ""
            if LocalDate.parse(period + "-01") == nil { errors["periodError"] = "A month such as 2026-12." }
            // The same ranges as the API and the bundle (FieldSpec), in the form's words.
            let schema = Resource.targets.schema
            var value: Double?
            if case .success(let v)? = schema.field("value")?.parse(form["value"] ?? ""), let n = v.double { value = n }
            if value == nil { errors["valueError"] = "A number from 0 to \(FieldValue.format(FieldType.moneyRange.upperBound))." }
            if let s = form["segment"], let spec = schema.field("segment"), spec.check(.text(s)) != nil {
                errors["segmentError"] = "At most \(spec.maxLength) characters."
            }
            let metric = form["metric"] ?? ""
            let metrics = Resource.targets.schema.choices("metric")
            if !metrics.contains(metric) { errors["metricError"] = "Choose " + metrics.joined(separator: ", ") + "." }
            guard errors.count == 4, let value else { return try await page(errors) }
            var record = Record(.targets, values: Array(repeating: .null, count: Resource.targets.schema.fields.count))
            record["period"] = .text(period)
            record["metric"] = .text(metric)
            record["value"] = .number(value)
            if let s = form["segment"] { record["segment"] = .text(s) }
            if try await store.get(.targets, id: record.id) != nil {
                _ = try await store.update(.targets, id: record.id, fields: ["value": .number(value)], actor: user.actor, at: now)
            } else {
                try await store.create(record, actor: user.actor, at: now)
            }
            return redirect(back + "?ok=" + Self.query("Target \(metric) \(period) saved."))
        case ("workspace", "save"):
            var values: [String: String] = [:]
            for k in WorkspaceSettingKey.allCases { if let v = form.raw(k.rawValue) { values[k.rawValue] = v } }
            let ifVersion = form["if_version"].flatMap { Int($0) }
            // A change that cuts the aggregates differently (time zone, SLA hours) rebuilds them in
            // the background with progress; the old figures keep serving until it commits.
            let current = try await store.workspaceSettings()
            if case .success(let planned) = current.settings.changes(values.sorted { $0.key < $1.key }.map { (key: $0.key, value: $0.value) }),
                planned.contains(where: { $0.key.rebuildsAggregates }), ifVersion.map({ $0 == current.version }) ?? true
            {
                let id = api.startSettingsJob(values, ifVersion: ifVersion, actor: user.actor, at: now)
                return redirect(back + "?job=" + id)
            }
            do {
                let result = try await store.changeSettings(values, ifVersion: ifVersion, actor: user.actor, at: now)
                let message =
                    result.changes.isEmpty
                    ? "Nothing changed."
                    : result.changes.map { "\($0.key.rawValue) \($0.old) → \($0.new)" }.joined(separator: "; ")
                        + (result.rebuiltAggregates ? ". The KPI figures were rebuilt." : ".")
                return redirect(back + "?ok=" + Self.query(message))
            } catch let e as StoreError {
                // The form comes back with what was typed and the keys the message names.
                let named = Set(WorkspaceSettingKey.allCases.map(\.rawValue).filter { e.description.contains($0) })
                if case .conflict = e {
                    return try await page(["formError": "Someone changed the settings meanwhile; these are the current values. " + e.description], .conflict)
                }
                return try await page(["formError": e.description, "errorKeys": named, "submitted": values])
            }
        default:
            throw Problem(.notFound, "No such settings action.")
        }
    }

    /// The model when the text reads; nil when it has problems.
    func scoringProblems(_ text: String) throws -> ScoringModel? {
        if case .success(let m) = ScoringModelFile.read(text) { return m }
        return nil
    }

    static func problemRows(_ r: Result<ScoringModel, ModelFileProblems>) -> [[String: Any]] {
        guard case .failure(let p) = r else { return [] }
        return p.problems.map { ["line": $0.line, "column": $0.column, "message": $0.message] }
    }

    /// The changed lines between two texts (the standard library's diff), for a preview.
    static func lineDiff(_ old: String, _ new: String) -> [[String: Any]] {
        let a = old.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let b = new.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        return b.difference(from: a).map { change -> [String: Any] in
            switch change {
            case .insert(let offset, let line, _): return ["sign": "+", "line": line, "no": offset + 1, "add": true]
            case .remove(let offset, let line, _): return ["sign": "−", "line": line, "no": offset + 1, "add": false]
            }
        }
    }
}
