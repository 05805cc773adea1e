import Foundation
import Hummingbird
import SmarketingConnectors
import SmarketingCore
import SmarketingStore

extension APIHandlers {
    /// The weekly sync: `/api/v1/agenda`, `/api/v1/meetings…`, `/api/v1/action-items…`. Everyone
    /// signed in reads; every role but viewer runs meetings and keeps action items.
    func ritualRoute(_ route: APIRoute, _ request: Request, _ context: AppRequestContext, _ actor: Actor) async throws -> Response {
        let q = request.uri.queryParameters
        let now = clock.now()
        if route.kind == .leadRate {
            let o = try jsonObject(try await body(request))
            guard case .number(let n)? = o["handover_id"], let id = Int64(exactly: n) else { throw Problem(.unprocessableContent, "handover_id must be a handover's id") }
            let rating = try LeadRatingValue(rawValue: o["rating"]?.string ?? "").orThrow(Problem(.unprocessableContent, "rating must be good or bad"))
            let h = try await store.handover(id: id, at: now).orThrow(Problem(.notFound, "no handover \(id)"))
            try await mayWork(h, actor)
            return try json(.ok, try await store.rateLead(handoverID: id, rating: rating, reason: o["reason"]?.string, actor: actor, at: now))
        }
        if route.kind == .leadQuality {
            let period = try await kpiQuery(from: q.get("from"), to: q.get("to"), by: nil).period
            let by = try LeadQualityCut(rawValue: q.get("by") ?? "campaign").orThrow(
                Problem(.unprocessableContent, "by must be one of " + LeadQualityCut.allCases.map(\.rawValue).joined(separator: ", "))
            )
            return try json(.ok, try await LeadQualityReads.report(store, period: period, by: by))
        }
        if route.kind == .forecast { return try json(.ok, try await ForecastReads.current(store, now: now)) }
        if route.kind == .forecastBacktest { return try json(.ok, try await ForecastReads.backtest(store, now: now)) }
        switch route.kind {
        case .kpiCustom:
            let period = try await kpiQuery(from: q.get("from"), to: q.get("to"), by: nil).period
            let active = try await KPIConfigReads.active(store)
            let values = try await active.asyncMap { try await KPIConfigReads.custom(store, $0.config, period: period) } ?? []
            return try json(.ok, KPICustomOut(version: active?.version, from: period.from.text, to: period.to.text, data: values))
        case .kpiConfig:
            let active = try await store.activeKPIConfigText()
            return try json(.ok, KPIConfigOut(version: active?.0.version, text: active?.1, versions: try await store.kpiConfigVersions()))
        case .kpiConfigValidate:
            let text = try await modelText(request)
            switch KPIConfigFile.read(text) {
            case .success(let c): return try json(.ok, KPIValidateOut(valid: true, kpis: c.builtins.count, custom: c.custom.count, problems: []))
            case .failure(let p):
                try refuseUnlessMapping(p, request)
                return try json(.ok, KPIValidateOut(valid: false, kpis: 0, custom: 0, problems: p.problems.map { "line \($0.line), column \($0.column): \($0.message)" }))
            }
        case .kpiConfigDiff:
            let new = try parsedYAML(try await modelText(request), what: "the KPI file", KPIConfigFile.read)
            return try json(.ok, ["changes": KPIConfigReads.diff(try await KPIConfigReads.active(store)?.config, new)])
        case .kpiConfigApply:
            guard AccessPolicy.mayAdminister(actor.role) else { throw forbidden(actor, "apply a KPI file") }
            let text = try await modelText(request)
            _ = try parsedYAML(text, what: "the KPI file", KPIConfigFile.read)
            return try json(.ok, try await KPIConfigReads.apply(store, text: text, comment: q.get("comment") ?? "", actor: actor, at: now))
        default: break
        }
        if route.kind == .ownerList { return try json(.ok, ["data": try await store.owners()]) }
        if route.kind == .ownerChange {
            guard AccessPolicy.mayAdminister(actor.role) else { throw forbidden(actor, "set owners") }
            let subject = try pathID(context)
            guard OwnedSubjects.known(subject) != nil else {
                throw Problem(.notFound, "nothing called \(subject.prefix(100)) has an owner; GET /api/v1/owners lists the subjects")
            }
            let o = try jsonObject(try await body(request))
            let change = OwnerChange(
                subject: subject, team: o["team"]?.string, responsible: o["responsible"]?.string, accountable: o["accountable"]?.string,
                consulted: o["consulted"]?.arrayOfStrings, informed: o["informed"]?.arrayOfStrings
            )
            return try json(.ok, try await store.setOwner(change, actor: actor, at: now))
        }
        if route.kind == .campaignReview {
            let period = try await kpiQuery(from: q.get("from"), to: q.get("to"), by: nil).period
            let model = try AttributionModel(rawValue: q.get("model") ?? "linear").orThrow(Problem(.unprocessableContent, "model is not an attribution model"))
            return try json(.ok, try await CampaignReview.read(store, campaignID: try pathID(context), period: period, model: model))
        }
        if route.method != .get, !AccessPolicy.mayRunMeetings(actor.role) {
            throw forbidden(actor, "record meetings or action items")
        }
        switch route.kind {
        case .agenda:
            let week = try await agendaWeek(q.get("week"))
            return try json(.ok, try await WeeklySync.agenda(store, week: week, now: now))
        case .meetingList:
            let limit = max(1, min(Int(q.get("limit") ?? "") ?? 50, 1_000))
            let list = try await store.meetings(limit: limit, before: q.get("before").flatMap { Int64($0) })
            return try json(.ok, MeetingPage(data: list, nextBefore: list.count == limit ? list.last?.id : nil))
        case .meetingCreate:
            let o = try jsonObject(try await body(request))
            let week = try await agendaWeek(o["week"]?.string)
            let attendees = o["attendees"]?.arrayOfStrings ?? []
            let m = try await store.createMeeting(week: week, title: o["title"]?.string ?? "Weekly sync", attendees: attendees, actor: actor, at: now)
            var response = try json(.created, m)
            response.headers[.location] = "/api/v1/meetings/\(m.id)"
            return response
        case .meetingGet:
            let m = try await meeting(context)
            var full = m
            full.agenda = try await WeeklySync.agenda(store, of: m, now: now)
            return try json(.ok, full)
        case .meetingChange:
            let o = try jsonObject(try await body(request))
            let change = MeetingChange(attendees: o["attendees"]?.arrayOfStrings, decision: o["decision"]?.string, notes: o["notes"]?.string)
            return try json(.ok, try await store.changeMeeting(id: try serialID(context), change, actor: actor, at: now))
        case .meetingFinish:
            return try json(.ok, try await WeeklySync.finish(store, id: try serialID(context), actor: actor, now: now))
        case .meetingMinutes:
            let m = try await meeting(context)
            let agenda = try await WeeklySync.agenda(store, of: m, now: now)
            let zone = try await store.workspaceSettings().settings.timeZone
            let blocks = try await WeeklySync.document(store, agenda: agenda, meeting: m, zone: zone)
            let format = q.get("format") ?? "markdown"
            return try json(.ok, Minutes(meetingId: m.id, format: format, text: format == "html" ? AgendaText.html(blocks) : AgendaText.markdown(blocks)))
        case .campaignNote:
            let o = try jsonObject(try await body(request))
            let decision = try o["decision"]?.string.map {
                try CampaignNote.Decision(rawValue: $0).orThrow(Problem(.unprocessableContent, "decision must be continue, change or stop"))
            }
            let note = try await store.addCampaignNote(campaignID: try pathID(context), text: o["text"]?.string ?? "", decision: decision, actor: actor, at: now)
            return try json(.created, note)
        case .actionItemList:
            let status = try q.get("status").map { try ActionItem.Status(rawValue: $0).orThrow(Problem(.unprocessableContent, "status must be open or done")) }
            let items = try await store.actionItems(
                ActionItemQuery(
                    ownerID: q.get("owner_id"),
                    meetingID: q.get("meeting_id").flatMap { Int64($0) },
                    status: status,
                    limit: max(1, min(Int(q.get("limit") ?? "") ?? 200, 10_000))
                )
            )
            return try json(.ok, ["data": items])
        case .actionItemCreate:
            let o = try jsonObject(try await body(request))
            let today = try await store.workspaceSettings().settings.today(now)
            let due: LocalDate
            switch MeetingRules.due(o["due"]?.string ?? "", today: today) {
            case .success(let d): due = d
            case .failure(let p): throw Problem(.unprocessableContent, p.description)
            }
            let meetingID: Int64?
            if case .number(let n)? = o["meeting_id"] {
                meetingID = Int64(exactly: n)
            } else {
                meetingID = nil
            }
            let item = try await store.createActionItem(
                ActionItemDraft(title: o["title"]?.string ?? "", ownerID: o["owner_id"]?.string ?? "", due: due, meetingID: meetingID),
                actor: actor,
                at: now
            )
            var response = try json(.created, item)
            response.headers[.location] = "/api/v1/action-items/\(item.id)"
            return response
        case .actionItemChange:
            let o = try jsonObject(try await body(request))
            let status = try ActionItem.Status(rawValue: o["status"]?.string ?? "").orThrow(Problem(.unprocessableContent, "status must be open or done"))
            return try json(.ok, try await store.setActionItem(id: try serialID(context), status: status, actor: actor, at: now))
        default:
            throw Problem(.notFound, "no such route")
        }
    }

    struct KPICustomOut: ExplicitNullEncodable {
        var version: Int?
        var from: String
        var to: String
        var data: [CustomKPIValue]
    }

    struct KPIConfigOut: ExplicitNullEncodable {
        var version: Int?
        var text: String?
        var versions: [HandoverConfigVersion]
    }

    struct KPIValidateOut: Encodable {
        var valid: Bool
        var kpis: Int
        var custom: Int
        var problems: [String]
    }

    struct MeetingPage: ExplicitNullEncodable {
        var data: [Meeting]
        var nextBefore: Int64?
    }

    struct Minutes: Encodable {
        var meetingId: Int64
        var format: String
        var text: String
    }

    func agendaWeek(_ text: String?) async throws -> AgendaWeek {
        if let text {
            return try AgendaWeek.parse(text).orThrow(Problem(.unprocessableContent, "week must be an ISO week like 2026-W49 that its year has"))
        }
        return WeeklySync.currentWeek(try await store.workspaceSettings().settings, now: clock.now())
    }

    func serialID(_ context: AppRequestContext) throws -> Int64 {
        let raw = try pathID(context)
        return try Int64(raw).flatMap { $0 > 0 ? $0 : nil }.orThrow(Problem(.notFound, "no such id \(raw.prefix(40))"))
    }

    func meeting(_ context: AppRequestContext) async throws -> Meeting {
        let id = try serialID(context)
        return try await store.meeting(id: id).orThrow(Problem(.notFound, "no meeting \(id)"))
    }
}

extension JSONValue {
    /// The strings of an array (nil when it is not an array of strings).
    var arrayOfStrings: [String]? {
        guard case .array(let a) = self else { return nil }
        let strings = a.compactMap(\.string)
        return strings.count == a.count ? strings : nil
    }
}
