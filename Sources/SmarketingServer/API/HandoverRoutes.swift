import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import SmarketingConnectors
import SmarketingCore
import SmarketingStore

extension APIHandlers {
    func handover(_ route: APIRoute, _ request: Request, _ context: AppRequestContext, _ actor: Actor) async throws -> Response {
        let q = request.uri.queryParameters
        let now = clock.now()
        switch route.kind {
        case .handoverConfig:
            guard let (v, text) = try await store.activeHandoverConfigText() else {
                throw Problem(.notFound, "no handover configuration has been applied yet (smarketing handover apply FILE)")
            }
            return try json(.ok, ConfigOut(version: v.version, appliedAt: v.appliedAt, author: v.author, comment: v.comment, text: text))
        case .handoverVersions:
            return try json(.ok, ["data": try await store.handoverConfigVersions()])
        case .handoverValidate:
            let text = try await modelText(request)
            switch HandoverConfigFile.read(text) {
            case .success(let c):
                return try json(
                    .ok,
                    HandoverValidateOut(valid: true, teams: c.teams.count, calendars: c.calendars.count, policies: c.policies.count, problems: [])
                )
            case .failure(let p):
                try refuseUnlessMapping(p, request)
                return try json(
                    .ok,
                    HandoverValidateOut(valid: false, problems: p.problems.map { .init(line: $0.line, column: $0.column, message: $0.message) })
                )
            }
        case .handoverApply:
            guard AccessPolicy.mayChangeHandover(actor.role) else { throw forbidden(actor, "change routing and SLA policies") }
            let text = try await modelText(request)
            let config = try parsedHandover(text)
            let v = try await store.applyHandoverConfig(text: text, config: config, comment: q.get("comment") ?? "", actor: actor, at: now)
            return try json(.ok, v)
        case .handoverList:
            var hq = HandoverQuery()
            hq.ownerID = q.get("owner")
            hq.contactID = q.get("contact")
            if let s = q.get("status") {
                hq.status = try HandoverStatus(rawValue: s).orThrow(
                    Problem(.unprocessableContent, "status must be one of " + HandoverStatus.allCases.map(\.rawValue).joined(separator: ", "))
                )
            }
            hq.openOnly = q.get("open") == "true"
            hq.limit = max(1, min(Int(q.get("limit") ?? "") ?? 50, 500))
            hq.before = q.get("before").flatMap { Int64($0) }
            let list = try await store.handovers(hq, at: now)
            return try json(.ok, ListOut(data: list, nextBefore: list.count == hq.limit ? list.last.map { String($0.id) } : nil))
        case .handoverGet:
            return try json(.ok, try await existing(context))
        case .handoverAccept, .handoverQualify, .handoverReject, .handoverPause, .handoverResume:
            let h = try await existing(context)
            try await mayWork(h, actor)
            let view: HandoverView
            switch route.kind {
            case .handoverPause, .handoverResume:
                view = try await store.pauseHandover(id: h.id, pause: route.kind == .handoverPause, actor: actor, at: now)
            default:
                var action = HandoverAction.accept
                var note: String?
                if route.kind == .handoverQualify { action = .qualify }
                let buffer = try await body(request)
                if buffer.readableBytes > 0 {
                    let o = try jsonObject(buffer)
                    note = o["note"]?.string
                    if route.kind == .handoverReject {
                        guard let r = o["reason"]?.string else { throw Problem(.unprocessableContent, "send {\"reason\": \"<reason id>\", \"note\": \"…\"}") }
                        action = .reject(reason: r)
                    }
                } else if route.kind == .handoverReject {
                    throw Problem(.badRequest, "a rejection needs a reason: send {\"reason\": \"<reason id>\", \"note\": \"…\"}")
                }
                view = try await store.actOnHandover(id: h.id, action: action, note: note, actor: actor, at: now)
            }
            return try json(.ok, view)
        case .handoverReassign:
            let h = try await existing(context)
            guard try await isManager(actor, of: h) else { throw forbidden(actor, "reassign a lead (managers of its team and admins may)") }
            let buffer = try await body(request)
            let to = buffer.readableBytes > 0 ? try jsonObject(buffer)["owner_id"]?.string : nil
            return try json(.ok, try await store.reassignHandover(id: h.id, to: to, actor: actor, at: now))
        case .inbox:
            var user = actor.userID
            if let other = q.get("user"), other != user {
                let manages = try await store.manages(userID: actor.userID, handoverOwner: other)
                guard actor.role == .admin || manages else { throw forbidden(actor, "read another rep's inbox") }
                user = other
            }
            let limit = max(1, min(Int(q.get("limit") ?? "") ?? 50, 200))
            // The rep's open action items from the weekly sync come with their leads.
            let items = try await store.actionItems(ActionItemQuery(ownerID: user, status: .open, limit: 100))
            return try json(.ok, InboxOut(user: user, at: now, data: try await store.inbox(userID: user, at: now, limit: limit), actionItems: items))
        case .slaReport, .acceptanceReport:
            let (from, to) = try period(from: q.get("from"), to: q.get("to"), now)
            let by = try ReportGrouping(rawValue: q.get("by") ?? (route.kind == .slaReport ? "rep" : "campaign")).orThrow(
                Problem(.unprocessableContent, "by must be one of " + ReportGrouping.allCases.map(\.rawValue).joined(separator: ", "))
            )
            if route.kind == .slaReport {
                return try json(.ok, ReportOut(from: from, to: to, by: by.rawValue, data: try await store.slaReport(from: from, to: to, by: by)))
            }
            return try json(.ok, ReportOut(from: from, to: to, by: by.rawValue, data: try await store.acceptanceReport(from: from, to: to, by: by)))
        case .commitments:
            let monthText = q.get("month") ?? String(now.utcDate.text.prefix(7))
            guard let month = LocalDate.parse(monthText + "-01") else { throw Problem(.unprocessableContent, "month must look like 2026-11") }
            let list = try await store.commitments(month: month, at: now)
            return try json(.ok, CommitmentsOut(month: monthText, at: now, data: list))
        case .webhookList, .webhookCreate, .webhookDelete, .webhookDeliveries, .webhookReplay:
            guard AccessPolicy.mayManageWebhooks(actor.role) else { throw forbidden(actor, "manage webhooks") }
            return try await webhook(route, request, context, actor)
        default:
            throw Problem(.notFound, "no such route")
        }
    }

    func webhook(_ route: APIRoute, _ request: Request, _ context: AppRequestContext, _ actor: Actor) async throws -> Response {
        let now = clock.now()
        switch route.kind {
        case .webhookList:
            return try json(.ok, ["data": try await store.webhooks()])
        case .webhookCreate:
            let o = try jsonObject(try await body(request))
            var events: [String] = []
            switch o["events"] {
            case .array(let a)?: events = a.compactMap(\.string)
            case .string(let s)?: events = [s]
            default: break
            }
            let (url, format, secret) = try WebhookInput.check(
                url: o["url"]?.string, events: events, format: o["format"]?.string, secret: o["secret"]?.string, allowPrivate: allowPrivateURLs
            )
            let sub = try await store.createWebhook(
                url: url, events: events, format: format, secret: try WebhookSecret.seal(secret, with: connections?.box), actor: actor, at: now
            )
            return try json(.created, CreatedWebhook(subscription: sub, secret: secret))
        case .webhookDelete:
            try await store.deactivateWebhook(id: try pathID(context), actor: actor, at: now)
            return Response(status: .noContent)
        case .webhookDeliveries:
            let q = request.uri.queryParameters
            let limit = max(1, min(Int(q.get("limit") ?? "") ?? 100, 1000))
            return try json(.ok, ["data": try await store.deliveries(subscriptionID: try pathID(context), status: q.get("status"), limit: limit)])
        default:
            let buffer = try await body(request)
            let o = buffer.readableBytes > 0 ? try jsonObject(buffer) : [:]
            func integer(_ v: JSONValue?) -> Int64? {
                switch v {
                case .number(let n)?: return Int64(exactly: n)
                case .string(let s)?: return Int64(s)
                default: return nil
                }
            }
            let delivery = integer(o["delivery_id"])
            let from = integer(o["from_seq"])
            guard delivery != nil || from != nil else { throw Problem(.badRequest, "send {\"delivery_id\": N} or {\"from_seq\": N}") }
            let n = try await store.replayDeliveries(subscriptionID: try pathID(context), fromSeq: from, deliveryID: delivery, actor: actor, at: now)
            return try json(.ok, ["queued": n])
        }
    }

    func existing(_ context: AppRequestContext) async throws -> HandoverView {
        let raw = try pathID(context)
        guard let id = Int64(raw) else { throw Problem(.unprocessableContent, "a handover id is a number, not \"\(raw)\"") }
        guard let h = try await store.handover(id: id, at: clock.now()) else { throw Problem(.notFound, "no handover \(id)") }
        return h
    }

    /// The owner works their handovers; their manager and admins may too.
    func mayWork(_ h: HandoverView, _ actor: Actor) async throws {
        if actor.role == .admin || actor.userID == h.ownerID { return }
        if actor.role == .sales {
            let manages = try await store.manages(userID: actor.userID, handoverOwner: h.ownerID)
            if manages { return }
        }
        throw forbidden(actor, "act on a lead owned by \(h.ownerID) (its owner, their manager and admins may)")
    }

    func isManager(_ actor: Actor, of h: HandoverView) async throws -> Bool {
        if actor.role == .admin { return true }
        guard actor.role == .sales else { return false }
        return try await store.manages(userID: actor.userID, handoverOwner: h.ownerID)
    }

    func period(from fromText: String?, to toText: String?, _ now: Timestamp) throws -> (Timestamp, Timestamp) {
        let to = try toText.map { try instant($0, "to") } ?? now
        let from = try fromText.map { try instant($0, "from") } ?? to.adding(milliseconds: -30 * 86_400_000)
        guard from < to else { throw Problem(.unprocessableContent, "from must be before to") }
        return (from, to)
    }

    /// The configuration, or 422 with every problem (line and column) and nothing applied.
    func parsedHandover(_ text: String) throws -> HandoverConfig {
        try parsedYAML(text, what: "the configuration", HandoverConfigFile.read)
    }

    struct ConfigOut: Encodable {
        var version: Int
        var appliedAt: Timestamp
        var author: String
        var comment: String
        var text: String
    }

    struct HandoverValidateOut: Encodable {
        var valid: Bool
        var teams: Int?
        var calendars: Int?
        var policies: Int?
        var problems: [ValidateOut.P]
    }

    struct ListOut<T: Encodable>: Encodable {
        var data: [T]
        var nextBefore: String?
    }

    struct InboxOut: Encodable {
        var user: String
        var at: Timestamp
        var data: [InboxItem]
        /// The user's open action items, earliest due first.
        var actionItems: [ActionItem]
    }

    struct ReportOut<T: Encodable>: Encodable {
        var from: Timestamp
        var to: Timestamp
        var by: String
        var data: [T]
    }

    struct CommitmentsOut: Encodable {
        var month: String
        var at: Timestamp
        var data: [Commitment]
    }

    struct CreatedWebhook: Encodable {
        var subscription: WebhookSubscription
        /// Shown once; sign-check deliveries with it.
        var secret: String
    }
}

/// The event types webhooks can subscribe to.
public enum WebhookEvents {
    public static let all = [
        "contact.mql", "stage.changed", "handover.assigned", "handover.queued", "handover.accepted", "handover.qualified", "handover.rejected",
        "handover.closed", "sla.warning", "sla.breached", "opportunity.won", "meeting.finished",
    ]
}

/// The checks of a new webhook subscription, shared by the API and the settings page.
enum WebhookInput {
    /// The URL, format and signing secret (a new random one when none is given), or a problem
    /// naming the field.
    static func check(url: String?, events: [String], format: String?, secret: String?, allowPrivate: Bool) throws -> (url: String, format: String, secret: String) {
        guard let url, let u = URL(string: url), let scheme = u.scheme, ["http", "https"].contains(scheme), let host = u.host else {
            throw Problem(.unprocessableContent, "url must be an http or https URL")
        }
        if !allowPrivate, let why = PrivateAddress.reason(host: host) {
            throw Problem(.unprocessableContent, "url points into the server's own network (\(why)); an admin may allow it with `smarketing serve --allow-private-urls`")
        }
        guard !events.isEmpty else {
            throw Problem(.unprocessableContent, "events must list event types (or \"*\"): " + WebhookEvents.all.joined(separator: ", "))
        }
        for e in events where e != "*" && !WebhookEvents.all.contains(e) {
            throw Problem(.unprocessableContent, "unknown event type \"\(e)\" (known: \(WebhookEvents.all.joined(separator: ", ")))")
        }
        let format = format ?? "json"
        guard ["json", "slack"].contains(format) else { throw Problem(.unprocessableContent, "format must be json or slack") }
        let secret = secret ?? "whsec_" + SymmetricKey(size: .bits256).withUnsafeBytes { Data($0).base64EncodedString() }
        guard secret.count >= 16 else { throw Problem(.unprocessableContent, "a secret needs at least 16 characters") }
        return (url, format, secret)
    }
}
