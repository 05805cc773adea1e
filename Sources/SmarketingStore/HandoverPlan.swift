import Foundation
import SmarketingCore

/// JSON as the store keeps it (clock states, routing decisions, log details, outbox payloads):
/// sorted keys, Swift's own key names (converting `userID` to snake case and back would not
/// round-trip). Both backends write the same bytes.
enum StoredJSON {
    static func encode(_ value: some Encodable) -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return (try? e.encode(value)).flatMap { String(data: $0, encoding: .utf8) } ?? "{}"
    }

    static func encode(_ object: [String: Any?]) -> String {
        let clean = object.compactMapValues { $0 }
        guard let data = try? JSONSerialization.data(withJSONObject: clean, options: [.sortedKeys]) else { return "{}" }
        return String(data: data, encoding: .utf8) ?? "{}"
    }

    static func object(_ value: some Encodable) -> Any {
        (try? JSONSerialization.jsonObject(with: Data(encode(value).utf8))) ?? [:]
    }

    static func decode<T: Decodable>(_ type: T.Type, _ text: String) -> T? {
        try? JSONDecoder().decode(type, from: Data(text.utf8))
    }
}

/// An event for the outbox (and the webhooks that want its type).
struct OutboxEvent {
    var type: String
    var data: [String: Any?]

    /// What orders deliveries: events about one contact (or deal) arrive in order.
    var subject: String { (data["contact_id"] ?? data["opportunity_id"] ?? nil).map { "\($0)" } ?? "" }
    var payload: String { StoredJSON.encode(data) }

    /// Whether a subscription to `events` (`*`: all) wants it.
    func wanted(by events: Set<String>) -> Bool { events.contains(type) || events.contains("*") }
}

/// An entry of a handover's log.
struct HandoverLogLine {
    var actor: String
    var action: String
    var detail: String
}

/// The handover engine's decisions and what they write, computed without I/O: both backends
/// load the facts, ask the plan, and write what it says in the transaction of the change. The
/// routing, SLA and escalation rules themselves are the core's (`HandoverRules`, `SLAClock`).
enum HandoverPlan {
    static let openStatuses = "('queued', 'assigned', 'accepted')"

    // MARK: Stage moves

    /// What a stage move means beside the handover: `stage.changed`, and `contact.mql` for an MQL.
    static func stageEvents(contactID: String, from: String?, to: LifecycleStage, at: Timestamp, actor: String, reason: String?) -> [OutboxEvent] {
        var events = [
            OutboxEvent(
                type: "stage.changed",
                data: ["contact_id": contactID, "from": from, "to": to.rawValue, "at": at.iso8601, "actor": actor, "reason": reason]
            )
        ]
        if to == .mql { events.append(OutboxEvent(type: "contact.mql", data: ["contact_id": contactID, "at": at.iso8601, "actor": actor])) }
        return events
    }

    // MARK: Opening and closing

    /// A new handover's row, clocks, log line and event.
    struct Opened {
        var status: HandoverStatus
        var opening: HandoverRules.Opening
        var routingJSON: String
        var log: HandoverLogLine
        /// The event, completed with the handover id once it is stored.
        func event(id: Int64, contactID: String, attributes: [String: String]) -> OutboxEvent {
            let d = opening.decision
            return OutboxEvent(
                type: d.queue == nil ? "handover.assigned" : "handover.queued",
                data: [
                    "handover_id": id, "contact_id": contactID, "owner_id": d.owner, "queue": d.queue, "team": d.team, "rule": d.rule,
                    "segment": opening.segment, "policy": opening.policy?.id, "grade": attributes["grade"],
                    "due": opening.clocks.map { ["kind": $0.kind.rawValue, "due_at": $0.dueAt.iso8601] },
                ]
            )
        }
    }

    static func open(config: HandoverConfig, attributes: [String: String], loads: [String: RepLoad], at now: Timestamp) -> Opened {
        let opening = HandoverRules.open(config: config, attributes: attributes, accountOwner: attributes["account.owner_id"], loads: loads, at: now)
        let d = opening.decision
        let json = StoredJSON.encode(d)
        return Opened(
            status: d.queue == nil ? .assigned : .queued,
            opening: opening,
            routingJSON: json,
            log: HandoverLogLine(actor: "rule:routing", action: d.queue == nil ? "assigned" : "queued", detail: json)
        )
    }

    static func closed(id: Int64, contactID: String, reason: String) -> (HandoverLogLine, OutboxEvent) {
        (
            HandoverLogLine(actor: "system", action: "closed", detail: StoredJSON.encode(["reason": reason])),
            OutboxEvent(type: "handover.closed", data: ["handover_id": id, "contact_id": contactID, "reason": reason])
        )
    }

    // MARK: Clock effects

    /// What a clock's effects write, and the escalation they ask for.
    struct ClockOutcome {
        enum Escalate: Equatable {
            case none
            /// Route again, skipping the owner.
            case reassign(excluding: String)
            case requeue
        }
        var logs: [HandoverLogLine] = []
        var events: [OutboxEvent] = []
        var warnings = 0
        var breaches = 0
        var escalate = Escalate.none
    }

    /// The handover a clock belongs to, as its effects need it.
    struct ClockHandover {
        var id: Int64
        var contactID: String
        var policyID: String?
        var team: String?
        var status: HandoverStatus?
    }

    /// Decides a clock's effects: log lines for met clocks; for a warning or a breach, the log
    /// line, the `sla.*` event and (when `escalate`) the policy's reassignment or requeue.
    /// Effects after the first escalation are logged and announced but escalate no further
    /// (the caller re-reads the handover before applying another).
    static func clockOutcome(
        _ clock: SLAClock,
        owner: String?,
        effects: [ClockEffect],
        handover h: ClockHandover,
        config: HandoverConfig?,
        escalate: Bool
    ) -> [ClockOutcome] {
        var out: [ClockOutcome] = []
        for effect in effects {
            var o = ClockOutcome()
            let breach: Bool
            let at: Timestamp
            switch effect {
            case .met(let t):
                o.logs.append(HandoverLogLine(actor: "system:sla", action: "clock.met", detail: StoredJSON.encode(["clock": clock.kind.rawValue, "at": t.iso8601])))
                out.append(o)
                continue
            case .metLate(let t):
                o.logs.append(
                    HandoverLogLine(actor: "system:sla", action: "clock.met_late", detail: StoredJSON.encode(["clock": clock.kind.rawValue, "at": t.iso8601]))
                )
                out.append(o)
                continue
            case .warning(let t): (breach, at) = (false, t)
            case .breached(let t): (breach, at) = (true, t)
            }
            let policy = h.policyID.flatMap { id in config?.policies.first { $0.id == id } }
            let e = HandoverRules.escalation(policy, breach: breach, owner: owner, manager: config?.manager(owner: owner, team: h.team))
            let type = breach ? "sla.breached" : "sla.warning"
            o.logs.append(
                HandoverLogLine(
                    actor: "system:sla",
                    action: type,
                    detail: StoredJSON.encode(["clock": clock.kind.rawValue, "due_at": clock.dueAt.iso8601, "at": at.iso8601, "notify": e.notify])
                )
            )
            o.events.append(
                OutboxEvent(
                    type: type,
                    data: [
                        "handover_id": h.id, "contact_id": h.contactID, "clock": clock.kind.rawValue, "owner_id": owner,
                        "due_at": clock.dueAt.iso8601, "notify": e.notify, "policy": policy?.id,
                    ]
                )
            )
            if breach { o.breaches = 1 } else { o.warnings = 1 }
            if escalate, config != nil, h.status?.isOpen == true {
                if e.reassign, let owner { o.escalate = .reassign(excluding: owner) } else if e.returnToQueue { o.escalate = .requeue }
            }
            out.append(o)
        }
        return out
    }

    // MARK: Reassigning, requeueing, answering

    static func manualDecision(to: String, actor: String, config: HandoverConfig) -> RoutingDecision {
        RoutingDecision(owner: to, queue: nil, rule: "manual", team: config.team(of: to)?.id, trail: ["manual: \(actor) chose \(to)"], candidates: [])
    }

    static func reassigned(id: Int64, contactID: String, previous: String, decision: RoutingDecision, actor: String) -> (HandoverLogLine, OutboxEvent) {
        (
            HandoverLogLine(
                actor: actor,
                action: "reassigned",
                detail: StoredJSON.encode(["from": previous, "to": decision.owner, "routing": StoredJSON.object(decision)])
            ),
            OutboxEvent(
                type: "handover.assigned",
                data: [
                    "handover_id": id, "contact_id": contactID, "owner_id": decision.owner, "previous_owner_id": previous, "rule": decision.rule,
                    "reassigned": true,
                ]
            )
        )
    }

    static func requeued(id: Int64, contactID: String?, previous: String?, config: HandoverConfig, actor: String) -> (HandoverLogLine, OutboxEvent) {
        (
            HandoverLogLine(actor: actor, action: "returned_to_queue", detail: StoredJSON.encode(["from": previous, "queue": config.router.fallbackQueue])),
            OutboxEvent(
                type: "handover.queued",
                data: ["handover_id": id, "contact_id": contactID, "owner_id": config.router.fallbackOwner, "queue": config.router.fallbackQueue]
            )
        )
    }

    /// An answer's log line, event and the stage move it causes (if the contact is not further on).
    static func answered(
        id: Int64,
        contactID: String,
        action: HandoverAction,
        note: String?,
        actor: Actor,
        stage: LifecycleStage?,
        config: HandoverConfig,
        at now: Timestamp
    ) -> (reason: String?, log: HandoverLogLine, event: OutboxEvent, move: LifecycleTransition?) {
        var reason: String?
        if case .reject(let r) = action { reason = r }
        let name: String
        switch action {
        case .accept: name = "accepted"
        case .qualify: name = "qualified"
        case .reject: name = "rejected"
        }
        let log = HandoverLogLine(actor: "user:" + actor.userID, action: name, detail: StoredJSON.encode(["reason": reason, "note": note]))
        let event = OutboxEvent(
            type: "handover." + name,
            data: [
                "handover_id": id, "contact_id": contactID, "by": actor.userID, "reason": reason,
                "reason_label": reason.flatMap { config.reasons[$0]?.label }, "note": note,
            ]
        )
        let target = HandoverRules.stage(after: action, reasons: config.reasons)
        let why = reason.map { r in "rejected by sales: " + (config.reasons[r]?.label ?? r) + (note.map { " — " + $0 } ?? "") }
        let move = try? Lifecycle.move(from: stage, to: target, at: now, actor: .user(actor.userID), reason: why ?? "handover \(id)").get()
        return (reason, log, event, move)
    }

    /// `opportunity.won` for a deal that became won.
    static func won(_ opp: Record, by: String) -> OutboxEvent {
        OutboxEvent(
            type: "opportunity.won",
            data: [
                "opportunity_id": opp.id, "account_id": opp["account_id"].text, "name": opp["name"].text, "amount": opp["amount"].double,
                "owner_id": opp["owner_id"].text, "closed_at": opp["closed_at"].timestamp?.iso8601, "by": by,
            ]
        )
    }

    /// A clock as the API shows it.
    static func storedClock(id: Int64, owner: String?, clock c: SLAClock, config: HandoverConfig?, at now: Timestamp) -> StoredClock {
        let calendar = HandoverRules.calendar(for: c, owner: owner, config: config)
        return StoredClock(
            id: id,
            kind: c.kind,
            status: c.status,
            ownerID: owner,
            startedAt: c.startedAt,
            dueAt: c.dueAt,
            warnAt: c.warnAt,
            breachedAt: c.breachedAt,
            completedAt: c.completedAt,
            business: c.business,
            budgetMs: c.budget,
            remainingMs: c.completedAt == nil ? c.dueAt.milliseconds - now.milliseconds : 0,
            remainingBusinessMs: c.completedAt == nil ? c.remaining(at: now, calendar: calendar) : 0,
            goal: c.goal,
            progress: c.progress
        )
    }
}
