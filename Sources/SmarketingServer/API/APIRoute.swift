import Foundation
import HTTPTypes
import SmarketingCore

/// One API route: what registers it and what documents it in OpenAPI, so the two cannot drift.
struct APIRoute: Sendable {
    enum Kind: Sendable, Equatable {
        case list(Resource)
        case get(Resource)
        case create(Resource)
        case update(Resource)
        case delete(Resource)
        case opportunityContacts, ingest, duplicates, merge, createToken, revokeToken, setPassword, audit
        case scoringModel, scoringVersions, scoringValidate, scoringDiff, scoringApply, scoringJob, scoringBacktest
        case contactScore, contactTransitions
        case handoverConfig, handoverVersions, handoverValidate, handoverApply
        case handoverList, handoverGet, handoverAccept, handoverQualify, handoverReject, handoverReassign, handoverPause, handoverResume
        case inbox, slaReport, acceptanceReport, commitments
        case webhookList, webhookCreate, webhookDelete, webhookDeliveries, webhookReplay
        case kpis, kpiRecords, stream, attribution, funnel, killers
        case connectionList, connectionCreate, connectionDelete, connectionTest, connectionSync, connectionRuns
        case settings, settingsChange, settingsJob
        case agenda, meetingList, meetingCreate, meetingGet, meetingChange, meetingFinish, meetingMinutes
        case actionItemList, actionItemCreate, actionItemChange
        case leadRate, leadQuality, forecast, forecastBacktest, campaignReview, campaignNote, ownerList, ownerChange
        case kpiCustom, kpiConfig, kpiConfigValidate, kpiConfigDiff, kpiConfigApply
        case contactErase, contactExport, erasures, contactConsent, contactConsentSet, consentList, retention

        /// Whether the weekly-sync routes handle this kind.
        var isRitual: Bool {
            switch self {
            case .agenda, .meetingList, .meetingCreate, .meetingGet, .meetingChange, .meetingFinish, .meetingMinutes, .actionItemList,
                .actionItemCreate, .actionItemChange, .leadRate, .leadQuality, .forecast, .forecastBacktest, .campaignReview, .campaignNote, .ownerList, .ownerChange, .kpiCustom, .kpiConfig,
                .kpiConfigValidate, .kpiConfigDiff, .kpiConfigApply:
                return true
            default: return false
            }
        }

        /// Whether the connection routes handle this kind.
        var isConnection: Bool {
            switch self {
            case .connectionList, .connectionCreate, .connectionDelete, .connectionTest, .connectionSync, .connectionRuns: return true
            default: return false
            }
        }

        /// Whether the handover routes handle this kind.
        var isHandover: Bool {
            switch self {
            case .handoverConfig, .handoverVersions, .handoverValidate, .handoverApply, .handoverList, .handoverGet, .handoverAccept,
                .handoverQualify, .handoverReject, .handoverReassign, .handoverPause, .handoverResume, .inbox, .slaReport, .acceptanceReport,
                .commitments, .webhookList, .webhookCreate, .webhookDelete, .webhookDeliveries, .webhookReplay:
                return true
            default: return false
            }
        }
    }

    var method: HTTPRequest.Method
    /// OpenAPI-style path (`/api/v1/contacts/{id}`); Hummingbird reads the same syntax.
    var path: String
    var kind: Kind
    var summary: String
    /// Documented response statuses besides 401/403 (added to every authenticated route).
    var responses: [Int]

    /// Every API route.
    static let all: [APIRoute] = {
        var routes: [APIRoute] = []
        for r in Resource.allCases {
            let base = "/api/v1/" + r.pathSegment
            let name = r.rawValue.replacingOccurrences(of: "_", with: " ")
            routes.append(
                APIRoute(method: .get, path: base, kind: .list(r), summary: "List \(name) (filters, search, sort, cursor paging)", responses: [200, 422])
            )
            routes.append(APIRoute(method: .get, path: base + "/{id}", kind: .get(r), summary: "Read one of \(name)", responses: [200, 404]))
            if r != .touchpoints {
                routes.append(APIRoute(method: .post, path: base, kind: .create(r), summary: "Create one of \(name)", responses: [201, 400, 409, 422]))
                routes.append(
                    APIRoute(
                        method: .patch,
                        path: base + "/{id}",
                        kind: .update(r),
                        summary: "Change fields of one of \(name)",
                        responses: [200, 400, 404, 409, 422]
                    )
                )
                routes.append(APIRoute(method: .delete, path: base + "/{id}", kind: .delete(r), summary: "Delete one of \(name)", responses: [204, 404, 409]))
            }
        }
        routes += [
            APIRoute(
                method: .get,
                path: "/api/v1/opportunities/{id}/contacts",
                kind: .opportunityContacts,
                summary: "The contacts of a deal with their roles",
                responses: [200, 404]
            ),
            APIRoute(
                method: .post,
                path: "/api/v1/events",
                kind: .ingest,
                summary: "Ingest events: one JSON object, a JSON array, or NDJSON",
                responses: [200, 400, 413, 422]
            ),
            APIRoute(method: .get, path: "/api/v1/contacts/duplicates", kind: .duplicates, summary: "Likely duplicate contacts", responses: [200]),
            APIRoute(
                method: .post,
                path: "/api/v1/contacts/merge",
                kind: .merge,
                summary: "Merge a duplicate contact into the one to keep",
                responses: [200, 400, 404, 422]
            ),
            APIRoute(
                method: .post,
                path: "/api/v1/tokens",
                kind: .createToken,
                summary: "Create an API token (admin); the token is shown once",
                responses: [201, 400, 404, 422]
            ),
            APIRoute(method: .delete, path: "/api/v1/tokens/{id}", kind: .revokeToken, summary: "Revoke an API token (admin)", responses: [204, 422]),
            APIRoute(
                method: .post,
                path: "/api/v1/users/{id}/password",
                kind: .setPassword,
                summary: "Set a user's password (admin)",
                responses: [204, 400, 404, 422]
            ),
            APIRoute(method: .get, path: "/api/v1/audit", kind: .audit, summary: "The audit log, newest first (admin)", responses: [200]),
            APIRoute(
                method: .post,
                path: "/api/v1/contacts/{id}/erase",
                kind: .contactErase,
                summary:
                    "Erase a person's personal data everywhere (GDPR Art. 17; admin): the anonymous facts the figures count stay, a tombstone flags a later record with the same address, linked HubSpot and Pipedrive records are erased there; irreversible",
                responses: [200, 400, 404, 409, 422]
            ),
            APIRoute(
                method: .get,
                path: "/api/v1/contacts/{id}/export",
                kind: .contactExport,
                summary: "Everything stored about a person as one JSON document (GDPR Art. 15 and 20; admin)",
                responses: [200, 404]
            ),
            APIRoute(
                method: .get,
                path: "/api/v1/contacts/{id}/consent",
                kind: .contactConsent,
                summary: "A contact's subscription status, its source and time (null status: nobody said)",
                responses: [200, 404]
            ),
            APIRoute(
                method: .put,
                path: "/api/v1/contacts/{id}/consent",
                kind: .contactConsentSet,
                summary: "Set a contact's subscription status (roles that write contacts; audited); it stands until a later statement, e.g. an unsubscribe event",
                responses: [200, 404, 422]
            ),
            APIRoute(
                method: .get,
                path: "/api/v1/consent",
                kind: .consentList,
                summary: "Subscription statuses by contact id (?status=unsubscribed, ?after=<contact id> for the next page)",
                responses: [200]
            ),
            APIRoute(
                method: .get,
                path: "/api/v1/retention",
                kind: .retention,
                summary: "Retention as a dry run (admin): the contacts the setting privacy.retention_months would anonymise now (?months= to try another value)",
                responses: [200]
            ),
            APIRoute(
                method: .get,
                path: "/api/v1/erasures",
                kind: .erasures,
                summary: "Erased people (tombstones, newest first) and the records created later with an erased address (admin)",
                responses: [200]
            ),
            APIRoute(
                method: .get,
                path: "/api/v1/settings",
                kind: .settings,
                summary: "The workspace settings (time zone, currency, fiscal year, week start, SLA hours, stale days, attribution defaults) and their version (admin)",
                responses: [200]
            ),
            APIRoute(
                method: .patch,
                path: "/api/v1/settings",
                kind: .settingsChange,
                summary:
                    "Change settings (admin): checked as a whole, audited, versioned (if_version refuses a change on stale settings with 409); a new time zone or SLA hours rebuilds the KPI aggregates (?background=true: as a job with progress, 202 and its Location)",
                responses: [200, 202, 409, 422]
            ),
            APIRoute(
                method: .get,
                path: "/api/v1/settings/jobs/{id}",
                kind: .settingsJob,
                summary: "A background settings change: running, done or failed, the rebuild's phase and progress (admin; kept until the server restarts)",
                responses: [200, 404]
            ),
            APIRoute(method: .get, path: "/api/v1/scoring/model", kind: .scoringModel, summary: "The active scoring model version", responses: [200, 404]),
            APIRoute(method: .get, path: "/api/v1/scoring/versions", kind: .scoringVersions, summary: "Every scoring model version", responses: [200]),
            APIRoute(
                method: .post,
                path: "/api/v1/scoring/validate",
                kind: .scoringValidate,
                summary: "Check a model file (YAML body); every problem with line and column",
                responses: [200, 400]
            ),
            APIRoute(
                method: .post,
                path: "/api/v1/scoring/diff",
                kind: .scoringDiff,
                summary: "What applying a model would change (marketing, admin); changes nothing",
                responses: [200, 400, 422]
            ),
            APIRoute(
                method: .post,
                path: "/api/v1/scoring/apply",
                kind: .scoringApply,
                summary: "Store a model as a new version and rescore in the background (marketing, admin); ?comment=",
                responses: [202, 400, 409, 422]
            ),
            APIRoute(
                method: .get,
                path: "/api/v1/scoring/jobs/{id}",
                kind: .scoringJob,
                summary: "Progress and result of a model apply",
                responses: [200, 404]
            ),
            APIRoute(
                method: .post,
                path: "/api/v1/scoring/backtest",
                kind: .scoringBacktest,
                summary: "Replay history through a model and the active one (?from, to, target, horizon, capacity)",
                responses: [200, 400, 422]
            ),
            APIRoute(
                method: .get,
                path: "/api/v1/contacts/{id}/score",
                kind: .contactScore,
                summary: "A contact's score explained: fit rules, engagement rules, history",
                responses: [200, 404, 422]
            ),
            APIRoute(
                method: .get,
                path: "/api/v1/contacts/{id}/transitions",
                kind: .contactTransitions,
                summary: "A contact's stage moves (from, to, at, actor, reason, model version)",
                responses: [200, 404]
            ),
        ]
        let h = "/api/v1/handovers/{id}"
        routes += [
            APIRoute(
                method: .get,
                path: "/api/v1/handover/config",
                kind: .handoverConfig,
                summary: "The active handover configuration (routing, SLA, calendars)",
                responses: [200, 404]
            ),
            APIRoute(
                method: .get,
                path: "/api/v1/handover/versions",
                kind: .handoverVersions,
                summary: "Every handover configuration version",
                responses: [200]
            ),
            APIRoute(
                method: .post,
                path: "/api/v1/handover/validate",
                kind: .handoverValidate,
                summary: "Check a handover configuration (YAML body); every problem with line and column",
                responses: [200, 400]
            ),
            APIRoute(
                method: .post,
                path: "/api/v1/handover/apply",
                kind: .handoverApply,
                summary: "Store a handover configuration as the new active version (admin); ?comment=",
                responses: [200, 400, 422]
            ),
            APIRoute(
                method: .get,
                path: "/api/v1/handovers",
                kind: .handoverList,
                summary: "Handovers, newest first (?owner, contact, status, open=true, limit, before)",
                responses: [200, 422]
            ),
            APIRoute(method: .get, path: h, kind: .handoverGet, summary: "A handover: routing decision, SLA clocks, history", responses: [200, 404, 422]),
            APIRoute(
                method: .post,
                path: h + "/accept",
                kind: .handoverAccept,
                summary: "Accept a handover (owner, manager, admin): the contact becomes SAL",
                responses: [200, 404, 422]
            ),
            APIRoute(
                method: .post,
                path: h + "/qualify",
                kind: .handoverQualify,
                summary: "Qualify a handover (owner, manager, admin): the contact becomes SQL",
                responses: [200, 404, 422]
            ),
            APIRoute(
                method: .post,
                path: h + "/reject",
                kind: .handoverReject,
                summary: "Reject a handover with a reason ({reason, note}): the contact is recycled or disqualified as the reason says",
                responses: [200, 400, 404, 422]
            ),
            APIRoute(
                method: .post,
                path: h + "/reassign",
                kind: .handoverReassign,
                summary: "Give a handover to another rep ({owner_id}) or route it again ({}) (manager, admin)",
                responses: [200, 400, 404, 422]
            ),
            APIRoute(method: .post, path: h + "/pause", kind: .handoverPause, summary: "Pause a handover's SLA clocks", responses: [200, 404, 422]),
            APIRoute(method: .post, path: h + "/resume", kind: .handoverResume, summary: "Resume a handover's SLA clocks", responses: [200, 404, 422]),
            APIRoute(
                method: .get,
                path: "/api/v1/inbox",
                kind: .inbox,
                summary: "The calling rep's open handovers by urgency, with SLA countdowns and why each is hot (?user for managers, limit)",
                responses: [200, 422]
            ),
            APIRoute(
                method: .get,
                path: "/api/v1/reports/sla",
                kind: .slaReport,
                summary: "SLA compliance and response times (?from, to, by=rep|team|segment|policy)",
                responses: [200, 422]
            ),
            APIRoute(
                method: .get,
                path: "/api/v1/reports/acceptance",
                kind: .acceptanceReport,
                summary: "Acceptance rate and rejection reasons (?from, to, by=campaign|channel|segment|rep|team)",
                responses: [200, 422]
            ),
            APIRoute(
                method: .get,
                path: "/api/v1/commitments",
                kind: .commitments,
                summary: "Marketing's MQL and pipeline commitments for a month: actual, projection, shortfall (?month=YYYY-MM)",
                responses: [200, 422]
            ),
            APIRoute(method: .get, path: "/api/v1/connections", kind: .connectionList, summary: "Vendor connections, never their credentials (admin)", responses: [200, 503]),
            APIRoute(
                method: .post,
                path: "/api/v1/connections",
                kind: .connectionCreate,
                summary: "Connect HubSpot, Salesforce, Pipedrive, Marketo or Pardot; credentials are stored encrypted (admin)",
                responses: [201, 503]
            ),
            APIRoute(method: .delete, path: "/api/v1/connections/{id}", kind: .connectionDelete, summary: "Remove a connection (admin)", responses: [204, 503]),
            APIRoute(
                method: .post,
                path: "/api/v1/connections/{id}/test",
                kind: .connectionTest,
                summary: "Check a connection's credentials in the background; the outcome is its status (admin)",
                responses: [202, 503]
            ),
            APIRoute(
                method: .post,
                path: "/api/v1/connections/{id}/sync",
                kind: .connectionSync,
                summary: "Sync a connection now, in the background (admin)",
                responses: [202, 503]
            ),
            APIRoute(method: .get, path: "/api/v1/connections/{id}/runs", kind: .connectionRuns, summary: "A connection's sync runs (admin)", responses: [200, 503]),
            APIRoute(method: .get, path: "/api/v1/webhooks", kind: .webhookList, summary: "Webhook subscriptions (admin)", responses: [200]),
            APIRoute(
                method: .post,
                path: "/api/v1/webhooks",
                kind: .webhookCreate,
                summary: "Subscribe a URL to event types ({url, events, format: json|slack, secret?}); the signing secret is shown once (admin)",
                responses: [201, 400, 422]
            ),
            APIRoute(method: .delete, path: "/api/v1/webhooks/{id}", kind: .webhookDelete, summary: "Stop a subscription (admin)", responses: [204, 404]),
            APIRoute(
                method: .get,
                path: "/api/v1/webhooks/{id}/deliveries",
                kind: .webhookDeliveries,
                summary: "The delivery log of a subscription, newest first (?status=pending|delivered|failed, limit) (admin)",
                responses: [200]
            ),
            APIRoute(
                method: .post,
                path: "/api/v1/webhooks/{id}/replay",
                kind: .webhookReplay,
                summary: "Send deliveries again ({delivery_id} or {from_seq}) (admin)",
                responses: [200, 400, 404]
            ),
            APIRoute(
                method: .get,
                path: "/api/v1/kpis",
                kind: .kpis,
                summary:
                    "The shared KPI set of [from, to) beside the previous period and targets (?from, to=YYYY-MM-DD, by=channel,campaign,persona,segment,owner,team)",
                responses: [200, 422]
            ),
            APIRoute(
                method: .get,
                path: "/api/v1/kpis/{id}/records",
                kind: .kpiRecords,
                summary:
                    "The records behind a KPI figure: {id} is a metric (mqls, mqls_converted, assigned, response, won, lost, velocity, open_pipeline, spend_marketing, …) (?from, to, by, key, label, limit)",
                responses: [200, 422]
            ),
            APIRoute(
                method: .get,
                path: "/api/v1/attribution",
                kind: .attribution,
                summary:
                    "Credit for deals won in [from, to) per model (?model=all|linear,w_shaped,markov,…, by=channel|campaign|content, from, to, lookback_days, half_life_days); served from a cache, a report at most 60 s old (Age: its age in seconds), or from the data as it is now with Cache-Control: no-cache",
                responses: [200, 422]
            ),
            APIRoute(
                method: .get,
                path: "/api/v1/funnel/leaks",
                kind: .funnel,
                summary:
                    "Where leads get lost: the period's lead cohort by stage, stage entries, time in stage, drop-off per cut value with a significance test, stuck and stale leads, SLA breaches, rejection reasons (?from, to, by, stuck_days, stale_days, confidence)",
                responses: [200, 422]
            ),
            APIRoute(
                method: .get,
                path: "/api/v1/funnel/killers",
                kind: .killers,
                summary:
                    "Conversion killers: touch types, content and campaigns whose presence on the paths of the contacts that reached a stage in [from, to) goes with lower conversion to the next stage than comparable paths without them, with effect size and confidence; negative Markov removal effects (?from, to, stage, confidence, min_paths)",
                responses: [200, 422]
            ),
            APIRoute(
                method: .get,
                path: "/api/v1/agenda",
                kind: .agenda,
                summary:
                    "The weekly sync's agenda from live data: headline KPIs of the week and the quarter to date against last week, last quarter and targets; commitments and SLA; leaks and conversion killers; rejections; open handovers by owner; open action items; changes (?week=2026-W49, default the current week)",
                responses: [200, 422]
            ),
            APIRoute(method: .get, path: "/api/v1/meetings", kind: .meetingList, summary: "Meetings, newest first (?limit, before=id)", responses: [200, 422]),
            APIRoute(
                method: .post,
                path: "/api/v1/meetings",
                kind: .meetingCreate,
                summary: "Open a weekly sync ({week?, title?, attendees?: [user ids]}) (every role but viewer)",
                responses: [201, 422]
            ),
            APIRoute(
                method: .get,
                path: "/api/v1/meetings/{id}",
                kind: .meetingGet,
                summary: "A meeting with its agenda: frozen as discussed once finished, live while open",
                responses: [200, 404]
            ),
            APIRoute(
                method: .patch,
                path: "/api/v1/meetings/{id}",
                kind: .meetingChange,
                summary: "Record attendees, a decision or notes in an open meeting ({attendees?, decision?, notes?}); 409 once finished",
                responses: [200, 404, 409, 422]
            ),
            APIRoute(
                method: .post,
                path: "/api/v1/meetings/{id}/finish",
                kind: .meetingFinish,
                summary: "Finish a meeting: its agenda is kept as discussed and the minutes go to meeting.finished webhook subscribers (Slack-compatible)",
                responses: [200, 404, 409]
            ),
            APIRoute(
                method: .get,
                path: "/api/v1/meetings/{id}/minutes",
                kind: .meetingMinutes,
                summary: "A meeting's minutes as Markdown or HTML (?format=markdown|html)",
                responses: [200, 404, 422]
            ),
            APIRoute(
                method: .get,
                path: "/api/v1/action-items",
                kind: .actionItemList,
                summary: "Action items, earliest due first (?owner_id, meeting_id, status=open|done, limit)",
                responses: [200, 422]
            ),
            APIRoute(
                method: .post,
                path: "/api/v1/action-items",
                kind: .actionItemCreate,
                summary: "Add an action item ({title, owner_id, due: YYYY-MM-DD, meeting_id?}); it shows in its owner's inbox and in the next agenda until done",
                responses: [201, 409, 422]
            ),
            APIRoute(
                method: .patch,
                path: "/api/v1/action-items/{id}",
                kind: .actionItemChange,
                summary: "Mark an action item done or open again ({status: done|open})",
                responses: [200, 404, 422]
            ),
            APIRoute(
                method: .post,
                path: "/api/v1/lead-ratings",
                kind: .leadRate,
                summary:
                    "Rate the lead of an accepted or rejected handover ({handover_id, rating: good|bad, reason?}); a new rating replaces the old (the handover's owner, their manager, admins)",
                responses: [200, 403, 404, 409, 422]
            ),
            APIRoute(
                method: .get,
                path: "/api/v1/lead-quality",
                kind: .leadQuality,
                summary:
                    "Sales' feedback on the leads answered in [from, to): accepted, rejected and why, rated good or bad and why, per campaign, channel, persona, content or month (?from, to, by)",
                responses: [200, 422]
            ),
            APIRoute(
                method: .get,
                path: "/api/v1/forecast",
                kind: .forecast,
                summary:
                    "The current fiscal quarter's won revenue forecast with a 90 % interval: won so far, expected from open deals (segment and age win chances from the history) and from new deals",
                responses: [200]
            ),
            APIRoute(
                method: .get,
                path: "/api/v1/forecast/backtest",
                kind: .forecastBacktest,
                summary: "The forecast replayed at every week of every complete quarter with what was known then: error, bias and interval coverage by week",
                responses: [200]
            ),
            APIRoute(
                method: .get,
                path: "/api/v1/campaigns/{id}/review",
                kind: .campaignReview,
                summary:
                    "A campaign's joint review: cost, leads, MQLs, acceptance, pipeline, won revenue, attributed revenue and ROMI under a model, sales' ratings of its leads, the notes of both teams and the standing decision (?from, to, model)",
                responses: [200, 404, 422]
            ),
            APIRoute(
                method: .post,
                path: "/api/v1/campaigns/{id}/review",
                kind: .campaignNote,
                summary: "Add a note to a campaign's review, optionally with a decision ({text, decision?: continue|change|stop}) (every role but viewer)",
                responses: [201, 404, 422]
            ),
            APIRoute(
                method: .get,
                path: "/api/v1/owners",
                kind: .ownerList,
                summary: "Who owns each lifecycle step, KPI and target: team, responsible, accountable, consulted, informed (defaults until set)",
                responses: [200]
            ),
            APIRoute(
                method: .patch,
                path: "/api/v1/owners/{id}",
                kind: .ownerChange,
                summary: "Set a subject's owner ({team?, responsible?, accountable?, consulted?, informed?}; \"\" clears a person) (admin)",
                responses: [200, 422]
            ),
            APIRoute(
                method: .get,
                path: "/api/v1/kpis/custom",
                kind: .kpiCustom,
                summary: "The custom KPIs of the active kpis.yaml for [from, to) and the period before, with their status (green/amber/red) (?from, to)",
                responses: [200, 422]
            ),
            APIRoute(method: .get, path: "/api/v1/kpi-config", kind: .kpiConfig, summary: "The active kpis.yaml (text and version) and every version", responses: [200]),
            APIRoute(
                method: .post,
                path: "/api/v1/kpi-config/validate",
                kind: .kpiConfigValidate,
                summary: "Check a kpis.yaml: every problem with line and column; nothing is stored",
                responses: [200, 422]
            ),
            APIRoute(
                method: .post,
                path: "/api/v1/kpi-config/diff",
                kind: .kpiConfigDiff,
                summary: "What applying a kpis.yaml would change against the active one",
                responses: [200, 422]
            ),
            APIRoute(
                method: .post,
                path: "/api/v1/kpi-config/apply",
                kind: .kpiConfigApply,
                summary: "Apply a kpis.yaml as the new version (admin; ?comment=); its owners become the KPIs' responsible people; audited and annotated on the charts",
                responses: [200, 422]
            ),
            APIRoute(
                method: .get,
                path: "/api/v1/stream",
                kind: .stream,
                summary: "Server-sent events: the KPI set (?from, to, by) now and again within a second of every committed change to it",
                responses: [200, 422]
            ),
        ]
        return routes
    }()

    /// The methods the route that serves `path` takes, as the router resolves it (a literal
    /// segment wins over `{id}`); nil when no route has this path. For 405 answers and `Allow`.
    static func allowedMethods(path: String) -> [String]? { match(path: path).map { Array($0.methods).sorted() } }

    /// The documented path template a request path falls under (`/api/v1/contacts/{id}`), if any.
    static func template(path: String) -> String? { match(path: path)?.template }

    private static func match(path: String) -> (template: String, methods: Set<String>)? {
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        var best: (score: [Bool], template: String, methods: Set<String>)?
        for (template, methods) in methodsByPath {
            let parts = template.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
            guard parts.count == segments.count else { continue }
            var score: [Bool] = []
            var fits = true
            for (t, s) in zip(parts, segments) {
                if t.hasPrefix("{") {
                    if s.isEmpty { fits = false }
                    score.append(false)
                } else if t == s {
                    score.append(true)
                } else {
                    fits = false
                }
                if !fits { break }
            }
            guard fits else { continue }
            if let b = best, !b.score.lexicographicallyPrecedes(score, by: { !$0 && $1 }) { continue }
            best = (score, template, methods)
        }
        return best.map { ($0.template, $0.methods) }
    }

    /// Each documented path with its methods (the unauthenticated ones included).
    static let methodsByPath: [String: Set<String>] = {
        var out: [String: Set<String>] = ["/openapi.json": ["GET"], "/healthz": ["GET"], "/readyz": ["GET"]]
        for r in all { out[r.path, default: []].insert(r.method.rawValue) }
        return out
    }()
}
