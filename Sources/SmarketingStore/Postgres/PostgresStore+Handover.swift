import Foundation
import SmarketingCore
import Synchronization

/// The handover inside write transactions on PostgreSQL: routing new MQLs, clocks, sales
/// touches, escalation and the outbox, decided by `HandoverPlan` and written in the transaction
/// of the change that caused them (as on SQLite).
///
/// What several instances change:
/// - stage moves wait in `transition_pending` (written with the move, in its transaction) and
///   each is claimed by exactly one reaction (`DELETE … RETURNING` over rows locked `SKIP
///   LOCKED`); a cursor over the move's sequence number would skip moves that commit after a
///   later number (PostgreSQL hands out numbers in one order and commits in another);
/// - at most one open handover per contact: a partial unique index, and `ON CONFLICT DO NOTHING`
///   when a concurrent reaction opened it first;
/// - a handover's clocks are read and written only while its row is locked (`FOR UPDATE`), so a
///   clock fires once and an answer and a breach of one handover take turns.
extension PostgresStore {
    /// The active handover configuration (nil: none applied, or routing turned off).
    func activeHandover(_ c: PGConn) async throws -> (version: Int, config: HandoverConfig)? {
        guard let parser = handoverParser else { return nil }
        guard let row = try await c.one("SELECT version, text FROM handover_configs WHERE active = 1"), let v = row.int(0) else { return nil }
        let version = Int(clamping: v)
        if let cached = handoverCache.withLock({ $0 }), cached.version == version { return cached }
        // A stored text always read when it was applied; nil here would mean a newer binary reads
        // it differently, and routing then stays off rather than routing by a guess.
        guard let config = parser(row.text(1) ?? "") else { return nil }
        handoverCache.withLock { $0 = (version, config) }
        return (version, config)
    }

    /// Reacts to the stage moves waiting for a reaction (this transaction's, and any a failed
    /// reaction left): `stage.changed` and `contact.mql` events, handovers opened for new MQLs,
    /// open ones closed when their contact moved on.
    func reactToTransitions(_ c: PGConn, at now: Timestamp) async throws {
        let rows = try await c.rows(
            """
            WITH claimed AS (
              DELETE FROM transition_pending WHERE seq IN (SELECT seq FROM transition_pending ORDER BY seq FOR UPDATE SKIP LOCKED) RETURNING seq
            )
            SELECT t.seq, t.contact_id, t.from_stage, t.to_stage, t.at, t.actor, t.reason
            FROM lifecycle_transitions t JOIN claimed USING (seq) ORDER BY t.seq
            """
        )
        guard !rows.isEmpty else { return }
        let engine = try await activeHandover(c)
        var outbox = try await PGOutbox(c)
        for row in rows {
            guard let contactID = row.text(1) else { continue }
            let to = LifecycleStage(rawValue: row.text(3) ?? "") ?? .lead
            let actor = row.text(5) ?? ""
            let at = Timestamp(milliseconds: row.int(4) ?? 0)
            for e in HandoverPlan.stageEvents(contactID: contactID, from: row.text(2), to: to, at: at, actor: actor, reason: row.text(6)) {
                try await outbox.emit(e, at: now)
            }
            switch to {
            case .mql:
                if let engine { try await openHandover(c, engine, contactID, at: now, outbox: &outbox) }
            case let stage where HandoverRules.closesHandover(stage):
                try await closeOpenHandover(c, contactID, reason: "contact became \(stage.rawValue)", at: now, outbox: &outbox)
            default:
                break
            }
        }
    }

    /// The attributes routing and policies read: the profile, plus grade and engagement.
    static func handoverAttributes(_ c: PGConn, _ contactID: String) async throws -> [String: String]? {
        guard let (profile, _, _, _) = try await loadProfile(c, contactID) else { return nil }
        var attributes = profile.attributes
        if let row = try await c.one("SELECT grade, engagement FROM contact_scores WHERE contact_id = ?", [.text(contactID)]) {
            attributes["grade"] = row.text(0)
            attributes["engagement"] = row.double(1).map { String($0) }
        }
        return attributes
    }

    /// What routing knows about every rep the configuration names.
    static func repLoads(_ c: PGConn, _ config: HandoverConfig, also: String?) async throws -> [String: RepLoad] {
        var ids = config.userIDs
        if let also { ids.insert(also) }
        let list = PGValue.textArray(ids.sorted())
        var loads: [String: RepLoad] = [:]
        for row in try await c.rows("SELECT id, capacity FROM users WHERE id = ANY(?::text[])", [list]) {
            guard let id = row.text(0) else { continue }
            loads[id] = RepLoad(userID: id, capacity: row.int(1).map { Int(clamping: $0) }, open: 0)
        }
        for row in try await c.rows(
            "SELECT owner_id, count(*) FROM handovers WHERE owner_id = ANY(?::text[]) AND status IN ('assigned', 'accepted') GROUP BY owner_id",
            [list]
        ) {
            if let id = row.text(0) { loads[id]?.open = Int(clamping: row.int(1) ?? 0) }
        }
        for row in try await c.rows("SELECT pool, user_id, assigned FROM routing_counters") {
            if let pool = row.text(0), let user = row.text(1) { loads[user]?.assigned[pool] = Int(clamping: row.int(2) ?? 0) }
        }
        return loads
    }

    func openHandover(_ c: PGConn, _ engine: (version: Int, config: HandoverConfig), _ contactID: String, at now: Timestamp, outbox: inout PGOutbox) async throws {
        if try await c.one("SELECT id FROM handovers WHERE contact_id = ? AND status IN \(HandoverPlan.openStatuses)", [.text(contactID)]) != nil { return }
        guard let attributes = try await Self.handoverAttributes(c, contactID) else { return }
        // Routing reads every rep's load and the round-robin counters: one routing at a time,
        // or two instances would give the same "next" rep two leads.
        try await c.execute("SELECT pg_advisory_xact_lock(?)", [.int(Self.routingLock)])
        let loads = try await Self.repLoads(c, engine.config, also: attributes["account.owner_id"])
        let plan = HandoverPlan.open(config: engine.config, attributes: attributes, loads: loads, at: now)
        let d = plan.opening.decision
        // The partial unique index keeps one open handover per contact, whoever opens it.
        guard
            let id = try await c.one(
                """
                INSERT INTO handovers (contact_id, status, owner_id, queue, team, segment, policy, grade, channel, campaign_id, rule,
                  routing, config_version, created_at, assigned_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (contact_id) WHERE status IN ('queued', 'assigned', 'accepted') DO NOTHING RETURNING id
                """,
                [
                    .text(contactID), .text(plan.status.rawValue), .text(d.owner), .of(d.queue), .of(d.team), .of(plan.opening.segment),
                    .of(plan.opening.policy?.id), .of(attributes["grade"]), .of(attributes["contact.source_channel"]),
                    .of(attributes["contact.source_campaign_id"]), .text(d.rule), .text(plan.routingJSON), .int(Int64(engine.version)),
                    .int(now.milliseconds), d.queue == nil ? .int(now.milliseconds) : .null,
                ]
            )?.int(0)
        else { return }
        try await Self.countAssignment(c, d)
        for clock in plan.opening.clocks { try await Self.insertClock(c, id, clock, owner: d.owner) }
        try await c.execute("UPDATE contacts SET owner_id = ?, assigned_at = ? WHERE id = ?", [.text(d.owner), .int(now.milliseconds), .text(contactID)])
        try await Self.log(c, id, at: now, plan.log)
        try await outbox.emit(plan.event(id: id, contactID: contactID, attributes: attributes), at: now)
    }

    /// One routing decision at a time across instances (loads and round-robin counters).
    static let routingLock: Int64 = 0x736D_6B5F_726F_7574  // "smk_rout"

    static func countAssignment(_ c: PGConn, _ d: RoutingDecision) async throws {
        guard let pool = d.pool else { return }
        try await c.execute(
            """
            INSERT INTO routing_counters(pool, user_id, assigned) VALUES (?, ?, 1)
            ON CONFLICT(pool, user_id) DO UPDATE SET assigned = routing_counters.assigned + 1
            """,
            [.text(pool), .text(d.owner)]
        )
    }

    func closeOpenHandover(_ c: PGConn, _ contactID: String, reason: String, at now: Timestamp, outbox: inout PGOutbox) async throws {
        guard
            let id = try await c.one(
                "SELECT id FROM handovers WHERE contact_id = ? AND status IN \(HandoverPlan.openStatuses) FOR UPDATE",
                [.text(contactID)]
            )?.int(0)
        else { return }
        try await Self.cancelClocks(c, id, at: now, kinds: nil)
        try await c.execute(
            "UPDATE handovers SET status = 'closed', closed_at = ?, note = coalesce(note, ?) WHERE id = ?",
            [.int(now.milliseconds), .text(reason), .int(id)]
        )
        let (line, event) = HandoverPlan.closed(id: id, contactID: contactID, reason: reason)
        try await Self.log(c, id, at: now, line)
        try await outbox.emit(event, at: now)
    }

    // MARK: Clocks

    static func insertClock(_ c: PGConn, _ handover: Int64, _ clock: SLAClock, owner: String?) async throws {
        try await c.execute(
            "INSERT INTO sla_clocks (handover_id, kind, owner_id, status, due_at, next_at, state) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                .int(handover), .text(clock.kind.rawValue), .of(owner), .text(clock.status.rawValue), .int(clock.dueAt.milliseconds),
                .of(clock.nextAction?.milliseconds), .text(StoredJSON.encode(clock)),
            ]
        )
    }

    static func saveClock(_ c: PGConn, _ id: Int64, _ clock: SLAClock) async throws {
        try await c.execute(
            "UPDATE sla_clocks SET status = ?, due_at = ?, next_at = ?, state = ? WHERE id = ?",
            [.text(clock.status.rawValue), .int(clock.dueAt.milliseconds), .of(clock.nextAction?.milliseconds), .text(StoredJSON.encode(clock)), .int(id)]
        )
    }

    /// The clocks of a handover: (row id, owner, clock).
    static func clocks(_ c: PGConn, _ handover: Int64) async throws -> [(id: Int64, owner: String?, clock: SLAClock)] {
        try await c.rows("SELECT id, owner_id, state FROM sla_clocks WHERE handover_id = ? ORDER BY id", [.int(handover)]).compactMap { row in
            guard let id = row.int(0), let clock = StoredJSON.decode(SLAClock.self, row.text(2) ?? "") else { return nil }
            return (id, row.text(1), clock)
        }
    }

    static func cancelClocks(_ c: PGConn, _ handover: Int64, at: Timestamp, kinds: Set<ClockKind>?) async throws {
        for (id, _, var clock) in try await clocks(c, handover) where clock.status == .running || clock.status == .paused {
            if let kinds, !kinds.contains(clock.kind) { continue }
            clock.cancel(at: at)
            try await saveClock(c, id, clock)
        }
    }

    /// Applies a clock's effects as `HandoverPlan` decides them: log, outbox, escalation.
    func clockEffects(
        _ c: PGConn,
        _ handover: Int64,
        _ clock: SLAClock,
        owner: String?,
        _ effects: [ClockEffect],
        at now: Timestamp,
        outbox: inout PGOutbox,
        escalate: Bool,
        run: inout DueRun
    ) async throws {
        for effect in effects {
            // Read per effect: an escalation just before may have changed the handover.
            let engine = try await activeHandover(c)
            let row = try await c.one("SELECT contact_id, policy, team, status FROM handovers WHERE id = ?", [.int(handover)])
            let h = HandoverPlan.ClockHandover(
                id: handover,
                contactID: row?.text(0) ?? "",
                policyID: row?.text(1),
                team: row?.text(2),
                status: row?.text(3).flatMap(HandoverStatus.init(rawValue:))
            )
            for o in HandoverPlan.clockOutcome(clock, owner: owner, effects: [effect], handover: h, config: engine?.config, escalate: escalate) {
                for line in o.logs { try await Self.log(c, handover, at: now, line) }
                for e in o.events { try await outbox.emit(e, at: now) }
                run.warnings += o.warnings
                run.breaches += o.breaches
                guard let engine else { continue }
                switch o.escalate {
                case .none: break
                case .reassign(let owner):
                    try await reassign(c, engine, handover, to: nil, excluding: [owner], actor: "system:sla", at: now, outbox: &outbox)
                    run.reassigned += 1
                case .requeue:
                    try await requeue(c, engine, handover, actor: "system:sla", at: now, outbox: &outbox)
                    run.requeued += 1
                }
            }
        }
    }

    /// Sales touches of an ingest: those on contacts with an open, assigned handover count
    /// towards its first-touch and follow-up clocks (handovers locked in id order).
    func salesTouches(_ c: PGConn, _ touches: [(contactID: String, at: Timestamp)], at now: Timestamp) async throws {
        guard !touches.isEmpty else { return }
        var open: [String: (id: Int64, assignedAt: Int64)] = [:]
        for row in try await c.rows(
            """
            SELECT contact_id, id, assigned_at FROM handovers
            WHERE contact_id = ANY(?::text[]) AND status IN ('assigned', 'accepted') ORDER BY id FOR UPDATE
            """,
            [.textArray(Array(Set(touches.map(\.contactID))).sorted())]
        ) {
            if let contact = row.text(0), let id = row.int(1), let assigned = row.int(2) { open[contact] = (id, assigned) }
        }
        guard !open.isEmpty else { return }
        var outbox = try await PGOutbox(c)
        var run = DueRun()
        for t in touches.sorted(by: { $0.at < $1.at }) {
            guard let h = open[t.contactID], t.at.milliseconds >= h.assignedAt else { continue }
            for (clockID, owner, var clock) in try await Self.clocks(c, h.id) where HandoverRules.clocksCountingTouches.contains(clock.kind) {
                guard clock.completedAt == nil, clock.status != .cancelled else { continue }
                let effects = clock.record(at: t.at)
                try await Self.saveClock(c, clockID, clock)
                try await clockEffects(c, h.id, clock, owner: owner, effects, at: now, outbox: &outbox, escalate: false, run: &run)
            }
            try await c.execute(
                "UPDATE handovers SET first_touch_at = least(coalesce(first_touch_at, ?), ?) WHERE id = ?",
                [.int(t.at.milliseconds), .int(t.at.milliseconds), .int(h.id)]
            )
        }
    }

    // MARK: Reassign and requeue

    /// Gives an open handover to `to` (nil: routes it again, skipping `excluding`). The caller
    /// holds the handover's row lock.
    func reassign(
        _ c: PGConn,
        _ engine: (version: Int, config: HandoverConfig),
        _ id: Int64,
        to: String?,
        excluding: Set<String>,
        actor: String,
        at now: Timestamp,
        outbox: inout PGOutbox
    ) async throws {
        guard let row = try await c.one("SELECT contact_id, owner_id, status, policy FROM handovers WHERE id = ? FOR UPDATE", [.int(id)]),
            let contactID = row.text(0), let previous = row.text(1)
        else { throw StoreError.missing("no handover \(id)") }
        let status = HandoverStatus(rawValue: row.text(2) ?? "") ?? .closed
        guard status.isOpen else { throw StoreError.conflict("handover \(id) is \(status.rawValue); only open handovers can be reassigned") }
        let config = engine.config
        var decision: RoutingDecision
        if let to {
            guard try await Self.exists(c, .users, id: to) else { throw StoreError.reference("no user \"\(to)\"") }
            decision = HandoverPlan.manualDecision(to: to, actor: actor, config: config)
        } else {
            guard var attributes = try await Self.handoverAttributes(c, contactID) else { return }
            if let s = config.segment(of: attributes) { attributes["segment"] = s }
            try await c.execute("SELECT pg_advisory_xact_lock(?)", [.int(Self.routingLock)])
            let loads = try await Self.repLoads(c, config, also: attributes["account.owner_id"])
            decision = config.router.route(
                attributes: attributes,
                accountOwner: attributes["account.owner_id"],
                config: config,
                loads: loads,
                exclude: excluding,
                at: now
            )
            if decision.queue != nil {
                try await requeue(c, engine, id, actor: actor, at: now, outbox: &outbox)
                return
            }
        }
        // The queue wait (assign clock) ends with an owner; the old owner's clocks stop.
        var run = DueRun()
        for (clockID, owner, var clock) in try await Self.clocks(c, id) where clock.status == .running || clock.status == .paused {
            if clock.kind == .assign {
                let effects = clock.complete(at: now)
                try await Self.saveClock(c, clockID, clock)
                try await clockEffects(c, id, clock, owner: owner, effects, at: now, outbox: &outbox, escalate: false, run: &run)
            } else {
                clock.cancel(at: now)
                try await Self.saveClock(c, clockID, clock)
            }
        }
        if let policy = row.text(3).flatMap({ p in config.policies.first { $0.id == p } }) {
            for clock in HandoverRules.ownerClocks(policy, config.calendar(forOwner: decision.owner), now) {
                try await Self.insertClock(c, id, clock, owner: decision.owner)
            }
        }
        try await Self.countAssignment(c, decision)
        try await c.execute(
            "UPDATE handovers SET owner_id = ?, queue = NULL, team = ?, status = 'assigned', assigned_at = ?, rule = ?, routing = ? WHERE id = ?",
            [.text(decision.owner), .of(decision.team), .int(now.milliseconds), .text(decision.rule), .text(StoredJSON.encode(decision)), .int(id)]
        )
        try await c.execute("UPDATE contacts SET owner_id = ?, assigned_at = ? WHERE id = ?", [.text(decision.owner), .int(now.milliseconds), .text(contactID)])
        let (line, event) = HandoverPlan.reassigned(id: id, contactID: contactID, previous: previous, decision: decision, actor: actor)
        try await Self.log(c, id, at: now, line)
        try await outbox.emit(event, at: now)
    }

    /// Puts an open handover back in the fallback queue; its assign clock starts again.
    func requeue(_ c: PGConn, _ engine: (version: Int, config: HandoverConfig), _ id: Int64, actor: String, at now: Timestamp, outbox: inout PGOutbox) async throws {
        let config = engine.config
        let row = try await c.one("SELECT contact_id, owner_id, policy FROM handovers WHERE id = ? FOR UPDATE", [.int(id)])
        try await Self.cancelClocks(c, id, at: now, kinds: nil)
        if let p = row?.text(2).flatMap({ p in config.policies.first { $0.id == p } }), let clock = HandoverRules.queueClock(p, config, now) {
            try await Self.insertClock(c, id, clock, owner: config.router.fallbackOwner)
        }
        try await c.execute(
            "UPDATE handovers SET owner_id = ?, queue = ?, status = 'queued', assigned_at = NULL WHERE id = ?",
            [.text(config.router.fallbackOwner), .of(config.router.fallbackQueue), .int(id)]
        )
        try await c.execute("UPDATE contacts SET owner_id = ? WHERE id = ?", [.text(config.router.fallbackOwner), .of(row?.text(0))])
        let (line, event) = HandoverPlan.requeued(id: id, contactID: row?.text(0), previous: row?.text(1), config: config, actor: actor)
        try await Self.log(c, id, at: now, line)
        try await outbox.emit(event, at: now)
    }

    static func log(_ c: PGConn, _ handover: Int64, at: Timestamp, _ line: HandoverLogLine) async throws {
        try await c.execute(
            "INSERT INTO handover_log (handover_id, at, actor, action, detail) VALUES (?, ?, ?, ?, ?)",
            [.int(handover), .int(at.milliseconds), .text(line.actor), .text(line.action), .text(line.detail)]
        )
    }
}

/// The durable outbox on PostgreSQL: an event row and one pending delivery per subscription that
/// wants its type, written in the transaction of the change.
struct PGOutbox {
    let c: PGConn
    let subscriptions: [(id: String, events: Set<String>)]

    init(_ c: PGConn) async throws {
        self.c = c
        subscriptions = try await c.rows("SELECT id, events FROM webhook_subscriptions WHERE active = 1 ORDER BY id").compactMap {
            guard let id = $0.text(0) else { return nil }
            return (id, Set(($0.text(1) ?? "").split(separator: ",").map(String.init)))
        }
    }

    mutating func emit(_ event: OutboxEvent, at: Timestamp) async throws {
        let targets = subscriptions.filter { event.wanted(by: $0.events) }.map(\.id)
        guard !targets.isEmpty else { return }
        try await c.execute(
            """
            WITH o AS (INSERT INTO outbox (type, at, subject, payload) VALUES (?, ?, ?, ?) RETURNING seq)
            INSERT INTO webhook_deliveries (subscription_id, outbox_seq, status, next_attempt_at)
            SELECT s, o.seq, 'pending', ? FROM o, unnest(?::text[]) AS s
            """,
            [.text(event.type), .int(at.milliseconds), .text(event.subject), .text(event.payload), .int(at.milliseconds), .textArray(targets)]
        )
    }
}
