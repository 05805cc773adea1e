import Foundation
import GRDB
import SmarketingCore
import Synchronization

/// The handover inside write transactions: routing new MQLs, clocks, sales touches, escalation
/// and the outbox. Everything here runs in the transaction of the change that caused it, so a
/// change and its consequences (clocks, log, webhook deliveries) commit or roll back together.
extension SQLiteStore {
    static let openStatuses = HandoverPlan.openStatuses

    /// The active handover configuration (nil: none applied, or routing turned off).
    func activeHandover(_ db: Database) throws -> (version: Int, config: HandoverConfig)? {
        guard let parser = handoverParser else { return nil }
        guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT version, text FROM handover_configs WHERE active = 1")) else {
            return nil
        }
        let version: Int = row[0]
        if let c = handoverCache.withLock({ $0 }), c.version == version { return c }
        // A stored text always read when it was applied; nil here would mean a newer binary reads
        // it differently, and routing then stays off rather than routing by a guess.
        guard let config = parser(row[1]) else { return nil }
        handoverCache.withLock { $0 = (version, config) }
        return (version, config)
    }

    /// Reacts to the stage moves recorded since the last call (in this or any earlier
    /// transaction): opens handovers for new MQLs, closes open ones whose contact left, writes
    /// `stage.changed` and `contact.mql` to the outbox. Imported history only moves the cursor.
    func reactToTransitions(_ db: Database, at now: Timestamp) throws {
        let cursor = try Int64.fetchOne(db.cachedStatement(sql: "SELECT seq FROM transition_cursor WHERE id = 1")) ?? 0
        let rows = try Row.fetchAll(
            db.cachedStatement(
                sql: "SELECT seq, contact_id, from_stage, to_stage, at, actor, reason FROM lifecycle_transitions WHERE seq > ? ORDER BY seq"
            ),
            arguments: [cursor]
        )
        guard let last = rows.last else { return }
        let engine = try activeHandover(db)
        var outbox = try Outbox(db)
        for row in rows {
            let contactID: String = row[1]
            let to = LifecycleStage(rawValue: row[3]) ?? .lead
            let actor: String = row[5]
            if actor == "import" { continue }
            let at = Timestamp(milliseconds: row[4])
            for e in HandoverPlan.stageEvents(contactID: contactID, from: row[2], to: to, at: at, actor: actor, reason: row[6]) {
                try outbox.emit(e, at: now)
            }
            switch to {
            case .mql:
                if let engine { try openHandover(db, engine, contactID, at: now, outbox: &outbox) }
            case let stage where HandoverRules.closesHandover(stage):
                // (The handover's own answers close it first; this is a contact moved another way.)
                try closeOpenHandover(db, contactID, reason: "contact became \(stage.rawValue)", at: now, outbox: &outbox)
            default:
                break
            }
        }
        try db.cachedStatement(sql: "UPDATE transition_cursor SET seq = ? WHERE id = 1").execute(arguments: [last[0] as Int64])
    }

    /// The attributes routing and policies read: the profile, plus grade and engagement.
    static func handoverAttributes(_ db: Database, _ contactID: String) throws -> [String: String]? {
        guard let (profile, _, _, _) = try loadProfile(db, contactID) else { return nil }
        var attributes = profile.attributes
        if let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT grade, engagement FROM contact_scores WHERE contact_id = ?"), arguments: [contactID]) {
            attributes["grade"] = row[0]
            attributes["engagement"] = String(row[1] as Double)
        }
        return attributes
    }

    /// What routing knows about every rep the configuration names (three queries, whatever the
    /// number of reps).
    static func repLoads(_ db: Database, _ config: HandoverConfig, also: String?) throws -> [String: RepLoad] {
        var ids = config.userIDs
        if let also { ids.insert(also) }
        let list = ids.sorted()
        let marks = list.map { _ in "?" }.joined(separator: ", ")
        var loads: [String: RepLoad] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT id, capacity FROM users WHERE id IN (\(marks))", arguments: StatementArguments(list)) {
            let id: String = row[0]
            loads[id] = RepLoad(userID: id, capacity: (row[1] as Int64?).map { Int($0) }, open: 0)
        }
        for row in try Row.fetchAll(
            db,
            sql: "SELECT owner_id, count(*) FROM handovers WHERE owner_id IN (\(marks)) AND status IN ('assigned', 'accepted') GROUP BY owner_id",
            arguments: StatementArguments(list)
        ) {
            loads[row[0] as String]?.open = row[1]
        }
        for row in try Row.fetchAll(db.cachedStatement(sql: "SELECT pool, user_id, assigned FROM routing_counters")) {
            let user: String = row[1]
            loads[user]?.assigned[row[0] as String] = row[2]
        }
        return loads
    }

    func openHandover(_ db: Database, _ engine: (version: Int, config: HandoverConfig), _ contactID: String, at now: Timestamp, outbox: inout Outbox) throws {
        if try Int64.fetchOne(
            db.cachedStatement(sql: "SELECT id FROM handovers WHERE contact_id = ? AND status IN \(Self.openStatuses)"),
            arguments: [contactID]
        ) != nil {
            return
        }
        guard let attributes = try Self.handoverAttributes(db, contactID) else { return }
        let loads = try Self.repLoads(db, engine.config, also: attributes["account.owner_id"])
        let plan = HandoverPlan.open(config: engine.config, attributes: attributes, loads: loads, at: now)
        let d = plan.opening.decision
        try db.cachedStatement(
            sql: """
                INSERT INTO handovers (contact_id, status, owner_id, queue, team, segment, policy, grade, channel, campaign_id, rule,
                  routing, config_version, created_at, assigned_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(arguments: [
            contactID, plan.status.rawValue, d.owner, d.queue, d.team, plan.opening.segment, plan.opening.policy?.id, attributes["grade"],
            attributes["contact.source_channel"], attributes["contact.source_campaign_id"], d.rule, plan.routingJSON, engine.version,
            now.milliseconds, d.queue == nil ? now.milliseconds : nil,
        ])
        let id = db.lastInsertedRowID
        try countAssignment(db, d)
        for clock in plan.opening.clocks { try insertClock(db, id, clock, owner: d.owner) }
        try db.cachedStatement(sql: "UPDATE contacts SET owner_id = ?, assigned_at = ? WHERE id = ?").execute(arguments: [
            d.owner, now.milliseconds, contactID,
        ])
        try log(db, id, at: now, plan.log)
        try outbox.emit(plan.event(id: id, contactID: contactID, attributes: attributes), at: now)
    }

    /// The round-robin's memory: one more lead for the owner in the pool that chose them.
    func countAssignment(_ db: Database, _ d: RoutingDecision) throws {
        guard let pool = d.pool else { return }
        try db.cachedStatement(
            sql: """
                INSERT INTO routing_counters(pool, user_id, assigned) VALUES (?, ?, 1)
                ON CONFLICT(pool, user_id) DO UPDATE SET assigned = assigned + 1
                """
        ).execute(arguments: [pool, d.owner])
    }

    func closeOpenHandover(_ db: Database, _ contactID: String, reason: String, at now: Timestamp, outbox: inout Outbox) throws {
        guard
            let id = try Int64.fetchOne(
                db.cachedStatement(sql: "SELECT id FROM handovers WHERE contact_id = ? AND status IN \(Self.openStatuses)"),
                arguments: [contactID]
            )
        else { return }
        try cancelClocks(db, id, at: now, kinds: nil)
        try db.execute(
            sql: "UPDATE handovers SET status = 'closed', closed_at = ?, note = coalesce(note, ?) WHERE id = ?",
            arguments: [now.milliseconds, reason, id]
        )
        let (line, event) = HandoverPlan.closed(id: id, contactID: contactID, reason: reason)
        try log(db, id, at: now, line)
        try outbox.emit(event, at: now)
    }

    // MARK: Clocks

    func insertClock(_ db: Database, _ handover: Int64, _ clock: SLAClock, owner: String?) throws {
        try db.cachedStatement(
            sql: "INSERT INTO sla_clocks (handover_id, kind, owner_id, status, due_at, next_at, state) VALUES (?, ?, ?, ?, ?, ?, ?)"
        ).execute(arguments: [
            handover, clock.kind.rawValue, owner, clock.status.rawValue, clock.dueAt.milliseconds, clock.nextAction?.milliseconds,
            Self.json(clock),
        ])
    }

    func saveClock(_ db: Database, _ id: Int64, _ clock: SLAClock) throws {
        try db.cachedStatement(sql: "UPDATE sla_clocks SET status = ?, due_at = ?, next_at = ?, state = ? WHERE id = ?").execute(arguments: [
            clock.status.rawValue, clock.dueAt.milliseconds, clock.nextAction?.milliseconds, Self.json(clock), id,
        ])
    }

    /// The clocks of a handover: (row id, owner, clock).
    func clocks(_ db: Database, _ handover: Int64) throws -> [(id: Int64, owner: String?, clock: SLAClock)] {
        try Row.fetchAll(db.cachedStatement(sql: "SELECT id, owner_id, state FROM sla_clocks WHERE handover_id = ? ORDER BY id"), arguments: [handover])
            .compactMap { row in
                guard let clock = Self.decode(SLAClock.self, row[2]) else { return nil }
                return (row[0], row[1], clock)
            }
    }

    func cancelClocks(_ db: Database, _ handover: Int64, at: Timestamp, kinds: Set<ClockKind>?) throws {
        for (id, _, var clock) in try clocks(db, handover) where clock.status == .running || clock.status == .paused {
            if let kinds, !kinds.contains(clock.kind) { continue }
            clock.cancel(at: at)
            try saveClock(db, id, clock)
        }
    }

    /// Applies a clock's effects: the log, the outbox and the policy's escalation actions.
    func clockEffects(
        _ db: Database,
        _ handover: Int64,
        _ clock: SLAClock,
        owner: String?,
        _ effects: [ClockEffect],
        at now: Timestamp,
        outbox: inout Outbox,
        escalate: Bool,
        run: inout DueRun
    ) throws {
        for effect in effects {
            // Read per effect: an escalation just before may have changed the handover.
            let engine = try activeHandover(db)
            let row = try Row.fetchOne(
                db.cachedStatement(sql: "SELECT contact_id, policy, team, status FROM handovers WHERE id = ?"),
                arguments: [handover]
            )
            let h = HandoverPlan.ClockHandover(
                id: handover,
                contactID: (row?[0] as String?) ?? "",
                policyID: row?[1],
                team: row?[2],
                status: (row?[3] as String?).flatMap(HandoverStatus.init(rawValue:))
            )
            for o in HandoverPlan.clockOutcome(clock, owner: owner, effects: [effect], handover: h, config: engine?.config, escalate: escalate) {
                for line in o.logs { try log(db, handover, at: now, line) }
                for e in o.events { try outbox.emit(e, at: now) }
                run.warnings += o.warnings
                run.breaches += o.breaches
                guard let engine else { continue }
                switch o.escalate {
                case .none: break
                case .reassign(let owner):
                    try reassign(db, engine, handover, to: nil, excluding: [owner], actor: "system:sla", at: now, outbox: &outbox)
                    run.reassigned += 1
                case .requeue:
                    try requeue(db, engine, handover, actor: "system:sla", at: now, outbox: &outbox)
                    run.requeued += 1
                }
            }
        }
    }

    /// Sales touches (call, email, meeting, accept/reject activity) of a batch: those on contacts
    /// with an open, assigned handover count towards its first-touch and follow-up clocks. One
    /// query finds the contacts with a handover (most have none).
    func salesTouches(_ db: Database, _ touches: [(contactID: String, at: Timestamp)], at now: Timestamp) throws {
        guard !touches.isEmpty else { return }
        let contacts = Array(Set(touches.map(\.contactID))).sorted()
        var open: [String: (id: Int64, assignedAt: Int64)] = [:]
        for chunk in stride(from: 0, to: contacts.count, by: 500).map({ Array(contacts[$0..<min(contacts.count, $0 + 500)]) }) {
            // The status list is the partial index's own, so SQLite uses the index (it does not
            // prove that a narrower list implies the index's condition, and would scan the table).
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT contact_id, id, assigned_at, status FROM handovers
                    WHERE contact_id IN (\(chunk.map { _ in "?" }.joined(separator: ", "))) AND status IN \(Self.openStatuses)
                    """,
                arguments: StatementArguments(chunk)
            ) where row[3] as String != HandoverStatus.queued.rawValue {
                if let assigned = row[2] as Int64? { open[row[0]] = (row[1], assigned) }
            }
        }
        guard !open.isEmpty else { return }
        var outbox = try Outbox(db)
        var run = DueRun()
        for t in touches.sorted(by: { $0.at < $1.at }) {
            guard let h = open[t.contactID], t.at.milliseconds >= h.assignedAt else { continue }
            for (clockID, owner, var clock) in try clocks(db, h.id) where HandoverRules.clocksCountingTouches.contains(clock.kind) {
                guard clock.completedAt == nil, clock.status != .cancelled else { continue }
                let effects = clock.record(at: t.at)
                try saveClock(db, clockID, clock)
                try clockEffects(db, h.id, clock, owner: owner, effects, at: now, outbox: &outbox, escalate: false, run: &run)
            }
            try db.cachedStatement(sql: "UPDATE handovers SET first_touch_at = min(coalesce(first_touch_at, ?), ?) WHERE id = ?").execute(arguments: [
                t.at.milliseconds, t.at.milliseconds, h.id,
            ])
        }
    }

    // MARK: Reassign and requeue

    /// Gives an open handover to `to` (nil: routes it again, skipping `excluding`): the old
    /// owner's running clocks are cancelled, the new owner's start now.
    func reassign(
        _ db: Database,
        _ engine: (version: Int, config: HandoverConfig),
        _ id: Int64,
        to: String?,
        excluding: Set<String>,
        actor: String,
        at now: Timestamp,
        outbox: inout Outbox
    ) throws {
        guard let row = try Row.fetchOne(db, sql: "SELECT contact_id, owner_id, status, policy FROM handovers WHERE id = ?", arguments: [id]) else {
            throw StoreError.missing("no handover \(id)")
        }
        let contactID: String = row[0]
        let previous: String = row[1]
        let status = HandoverStatus(rawValue: row[2]) ?? .closed
        guard status.isOpen else { throw StoreError.conflict("handover \(id) is \(status.rawValue); only open handovers can be reassigned") }
        let config = engine.config
        var decision: RoutingDecision
        if let to {
            guard try Int.fetchOne(db, sql: "SELECT 1 FROM users WHERE id = ?", arguments: [to]) != nil else {
                throw StoreError.reference("no user \"\(to)\"")
            }
            decision = HandoverPlan.manualDecision(to: to, actor: actor, config: config)
        } else {
            guard var attributes = try Self.handoverAttributes(db, contactID) else { return }
            if let s = config.segment(of: attributes) { attributes["segment"] = s }
            let loads = try Self.repLoads(db, config, also: attributes["account.owner_id"])
            decision = config.router.route(
                attributes: attributes,
                accountOwner: attributes["account.owner_id"],
                config: config,
                loads: loads,
                exclude: excluding,
                at: now
            )
            if decision.queue != nil {
                try requeue(db, engine, id, actor: actor, at: now, outbox: &outbox)
                return
            }
        }
        // The queue wait (assign clock) ends with an owner; the old owner's clocks stop.
        var run = DueRun()
        for (clockID, owner, var clock) in try clocks(db, id) where clock.status == .running || clock.status == .paused {
            if clock.kind == .assign {
                let effects = clock.complete(at: now)
                try saveClock(db, clockID, clock)
                try clockEffects(db, id, clock, owner: owner, effects, at: now, outbox: &outbox, escalate: false, run: &run)
            } else {
                clock.cancel(at: now)
                try saveClock(db, clockID, clock)
            }
        }
        let policy = (row[3] as String?).flatMap { p in config.policies.first { $0.id == p } }
        if let policy {
            for clock in HandoverRules.ownerClocks(policy, config.calendar(forOwner: decision.owner), now) {
                try insertClock(db, id, clock, owner: decision.owner)
            }
        }
        try countAssignment(db, decision)
        try db.execute(
            sql: "UPDATE handovers SET owner_id = ?, queue = NULL, team = ?, status = 'assigned', assigned_at = ?, rule = ?, routing = ? WHERE id = ?",
            arguments: [decision.owner, decision.team, now.milliseconds, decision.rule, Self.json(decision), id]
        )
        try db.execute(sql: "UPDATE contacts SET owner_id = ?, assigned_at = ? WHERE id = ?", arguments: [decision.owner, now.milliseconds, contactID])
        let (line, event) = HandoverPlan.reassigned(id: id, contactID: contactID, previous: previous, decision: decision, actor: actor)
        try log(db, id, at: now, line)
        try outbox.emit(event, at: now)
    }

    /// Puts an open handover back in the fallback queue; its assign clock starts again.
    func requeue(_ db: Database, _ engine: (version: Int, config: HandoverConfig), _ id: Int64, actor: String, at now: Timestamp, outbox: inout Outbox) throws {
        let config = engine.config
        let row = try Row.fetchOne(db, sql: "SELECT contact_id, owner_id, policy FROM handovers WHERE id = ?", arguments: [id])
        try cancelClocks(db, id, at: now, kinds: nil)
        if let p = (row?[2] as String?).flatMap({ p in config.policies.first { $0.id == p } }), let clock = HandoverRules.queueClock(p, config, now) {
            try insertClock(db, id, clock, owner: config.router.fallbackOwner)
        }
        try db.execute(
            sql: "UPDATE handovers SET owner_id = ?, queue = ?, status = 'queued', assigned_at = NULL WHERE id = ?",
            arguments: [config.router.fallbackOwner, config.router.fallbackQueue, id]
        )
        try db.execute(sql: "UPDATE contacts SET owner_id = ? WHERE id = ?", arguments: [config.router.fallbackOwner, row?[0] as String?])
        let (line, event) = HandoverPlan.requeued(id: id, contactID: row?[0], previous: row?[1], config: config, actor: actor)
        try log(db, id, at: now, line)
        try outbox.emit(event, at: now)
    }

    func log(_ db: Database, _ handover: Int64, at: Timestamp, _ line: HandoverLogLine) throws {
        try log(db, handover, at: at, actor: line.actor, action: line.action, detail: line.detail)
    }

    func log(_ db: Database, _ handover: Int64, at: Timestamp, actor: String, action: String, detail: String) throws {
        try db.cachedStatement(sql: "INSERT INTO handover_log (handover_id, at, actor, action, detail) VALUES (?, ?, ?, ?, ?)").execute(arguments: [
            handover, at.milliseconds, actor, action, detail,
        ])
    }

    // MARK: JSON helpers

    static func json(_ value: some Encodable) -> String { StoredJSON.encode(value) }
    static func json(_ object: [String: Any?]) -> String { StoredJSON.encode(object) }
    static func jsonObject(_ value: some Encodable) -> Any { StoredJSON.object(value) }
    static func decode<T: Decodable>(_ type: T.Type, _ text: String) -> T? { StoredJSON.decode(type, text) }
}

/// The durable outbox: event rows and one pending delivery per subscription that wants the type,
/// written in the transaction of the change.
struct Outbox {
    let db: Database
    /// Active subscriptions and the event types they want (`*`: all).
    let subscriptions: [(id: String, events: Set<String>)]

    init(_ db: Database) throws {
        self.db = db
        subscriptions = try Row.fetchAll(db.cachedStatement(sql: "SELECT id, events FROM webhook_subscriptions WHERE active = 1")).map {
            ($0[0], Set(($0[1] as String).split(separator: ",").map(String.init)))
        }
    }

    /// Stores an event for every subscription that wants it (nothing when none does).
    mutating func emit(_ type: String, at: Timestamp, _ data: [String: Any?]) throws {
        try emit(OutboxEvent(type: type, data: data), at: at)
    }

    mutating func emit(_ event: OutboxEvent, at: Timestamp) throws {
        let targets = subscriptions.filter { event.wanted(by: $0.events) }
        guard !targets.isEmpty else { return }
        try db.cachedStatement(sql: "INSERT INTO outbox (type, at, subject, payload) VALUES (?, ?, ?, ?)").execute(arguments: [
            event.type, at.milliseconds, event.subject, event.payload,
        ])
        let seq = db.lastInsertedRowID
        for t in targets {
            try db.cachedStatement(
                sql: "INSERT INTO webhook_deliveries (subscription_id, outbox_seq, status, next_attempt_at) VALUES (?, ?, 'pending', ?)"
            ).execute(arguments: [t.id, seq, at.milliseconds])
        }
    }
}
