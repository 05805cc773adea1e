import Foundation
import GRDB
import SmarketingCore

extension SQLiteStore {
    // MARK: Configuration

    public func applyHandoverConfig(text: String, config: HandoverConfig, comment: String, actor: Actor, at: Timestamp) async throws -> HandoverConfigVersion {
        try await writeRefreshingKPIs { db in
            var unknown: [String] = []
            for id in config.userIDs.sorted() where try Int.fetchOne(db, sql: "SELECT 1 FROM users WHERE id = ?", arguments: [id]) == nil {
                unknown.append(id)
            }
            if !unknown.isEmpty {
                throw StoreError.invalid("the configuration names users the workspace does not have: " + unknown.joined(separator: ", "))
            }
            let version = (try Int.fetchOne(db, sql: "SELECT max(version) FROM handover_configs") ?? 0) + 1
            // The aggregates follow the new teams and calendars: only the moved reps' contacts and
            // deals are refreshed (when they were current), else the refresh rebuilds them.
            let old = try self.activeHandover(db)?.config
            let settings = try Self.kpiSettings(db)
            if let moved = KPIRules.handoverChange(from: old, to: config),
                try String.fetchOne(db, sql: "SELECT built_with FROM kpi_state WHERE id = 1") == Self.kpiBuildKey(settings, handover: old)
            {
                for rep in moved.sorted() {
                    try db.execute(sql: "INSERT INTO kpi_dirty SELECT 'c', id FROM contacts WHERE owner_id = ?", arguments: [rep])
                    try db.execute(sql: "INSERT INTO kpi_dirty SELECT 'd', id FROM opportunities WHERE owner_id = ?", arguments: [rep])
                }
                try db.execute(sql: "UPDATE kpi_state SET built_with = ? WHERE id = 1", arguments: [Self.kpiBuildKey(settings, handover: config)])
            }
            try db.execute(sql: "UPDATE handover_configs SET active = 0")
            try db.execute(
                sql: "INSERT INTO handover_configs (version, text, applied_at, author, comment, active) VALUES (?, ?, ?, ?, ?, 1)",
                arguments: [version, text, at.milliseconds, actor.userID, comment]
            )
            try Self.audit(db, actor, at, "apply", "handover_config", String(version), Self.json(["comment": comment]))
            return HandoverConfigVersion(version: version, appliedAt: at, author: actor.userID, comment: comment, active: true)
        }
    }

    /// Opens handovers for contacts that are MQL now but have none (a team adopting routing, or
    /// MQLs imported as history). Returns how many were opened.
    public func routeWaitingMQLs(at now: Timestamp) async throws -> Int {
        try await writeRefreshingKPIs { db in
            guard let engine = try self.activeHandover(db) else { throw StoreError.conflict("no handover configuration is active") }
            let ids = try String.fetchAll(
                db,
                sql: """
                    SELECT c.id FROM contacts c WHERE c.lifecycle_stage = 'mql'
                    AND NOT EXISTS (SELECT 1 FROM handovers h WHERE h.contact_id = c.id) ORDER BY c.became_mql_at, c.id
                    """
            )
            var outbox = try Outbox(db)
            for id in ids { try self.openHandover(db, engine, id, at: now, outbox: &outbox) }
            return ids.count
        }
    }

    public func handoverConfigVersions() async throws -> [HandoverConfigVersion] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT version, applied_at, author, comment, active FROM handover_configs ORDER BY version DESC").map {
                HandoverConfigVersion(version: $0[0], appliedAt: Timestamp(milliseconds: $0[1]), author: $0[2], comment: $0[3], active: $0[4])
            }
        }
    }

    public func activeHandoverConfigText() async throws -> (HandoverConfigVersion, String)? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT version, applied_at, author, comment, active, text FROM handover_configs WHERE active = 1").map {
                (HandoverConfigVersion(version: $0[0], appliedAt: Timestamp(milliseconds: $0[1]), author: $0[2], comment: $0[3], active: true), $0[5])
            }
        }
    }

    // MARK: Handovers

    static let handoverColumns = """
        id, contact_id, status, owner_id, queue, team, segment, policy, grade, channel, campaign_id, rule, routing, config_version,
        created_at, assigned_at, answered_at, first_touch_at, closed_at, reason, note
        """

    /// A handover row as the API shows it; `config` is the active configuration, read once by
    /// the caller for a whole list.
    func view(_ db: Database, _ row: Row, config: HandoverConfig?, at now: Timestamp, log withLog: Bool) throws -> HandoverView {
        let id: Int64 = row[0]
        func ts(_ i: Int) -> Timestamp? { (row[i] as Int64?).map { Timestamp(milliseconds: $0) } }
        let clocks = try clocks(db, id).map { HandoverPlan.storedClock(id: $0.id, owner: $0.owner, clock: $0.clock, config: config, at: now) }
        var log: [HandoverLogEntry]?
        if withLog {
            log = try Row.fetchAll(db, sql: "SELECT at, actor, action, detail FROM handover_log WHERE handover_id = ? ORDER BY seq", arguments: [id]).map {
                HandoverLogEntry(at: Timestamp(milliseconds: $0[0]), actor: $0[1], action: $0[2], detail: $0[3])
            }
        }
        return HandoverView(
            id: id,
            contactID: row[1],
            status: HandoverStatus(rawValue: row[2]) ?? .closed,
            ownerID: row[3],
            queue: row[4],
            team: row[5],
            segment: row[6],
            policy: row[7],
            grade: row[8],
            channel: row[9],
            campaignID: row[10],
            rule: row[11],
            routing: Self.decode(RoutingDecision.self, row[12]),
            configVersion: row[13],
            createdAt: Timestamp(milliseconds: row[14]),
            assignedAt: ts(15),
            answeredAt: ts(16),
            firstTouchAt: ts(17),
            closedAt: ts(18),
            reason: row[19],
            note: row[20],
            clocks: clocks,
            log: log
        )
    }

    /// One handover with its history (nil: no such handover).
    func view(_ db: Database, id: Int64, at now: Timestamp) throws -> HandoverView? {
        guard let row = try Row.fetchOne(db, sql: "SELECT \(Self.handoverColumns) FROM handovers WHERE id = ?", arguments: [id]) else { return nil }
        return try view(db, row, config: try activeHandover(db)?.config, at: now, log: true)
    }

    public func handovers(_ q: HandoverQuery, at now: Timestamp) async throws -> [HandoverView] {
        try await pool.read { db in
            var sql = "SELECT \(Self.handoverColumns) FROM handovers WHERE id < ?"
            var args: [(any DatabaseValueConvertible)?] = [q.before ?? Int64.max]
            if let o = q.ownerID {
                sql += " AND owner_id = ?"
                args.append(o)
            }
            if let c = q.contactID {
                sql += " AND contact_id = ?"
                args.append(c)
            }
            if q.openOnly { sql += " AND status IN \(Self.openStatuses)" }
            if let s = q.status {
                sql += " AND status = ?"
                args.append(s.rawValue)
            }
            sql += " ORDER BY id DESC LIMIT ?"
            args.append(q.limit)
            let config = try self.activeHandover(db)?.config
            return try Row.fetchAll(db, sql: sql, arguments: StatementArguments(args)).map { try self.view(db, $0, config: config, at: now, log: false) }
        }
    }

    public func handover(id: Int64, at now: Timestamp) async throws -> HandoverView? {
        try await pool.read { db in
            try self.view(db, id: id, at: now)
        }
    }

    /// Accept, qualify or reject: the handover, its clocks and the contact's stage change together.
    public func actOnHandover(id: Int64, action: HandoverAction, note: String?, actor: Actor, at now: Timestamp) async throws -> HandoverView {
        try await writeRefreshingKPIs { db in
            guard let engine = try self.activeHandover(db) else { throw StoreError.conflict("no handover configuration is active") }
            guard let row = try Row.fetchOne(db, sql: "SELECT contact_id, status FROM handovers WHERE id = ?", arguments: [id]) else {
                throw StoreError.missing("no handover \(id)")
            }
            let contactID: String = row[0]
            let status = HandoverStatus(rawValue: row[1]) ?? .closed
            let next: HandoverStatus
            switch HandoverRules.apply(action, to: status, reasons: engine.config.reasons) {
            case .success(let s): next = s
            case .failure(let refusal): throw StoreError.conflict(refusal.description)
            }
            var outbox = try Outbox(db)
            var run = DueRun()
            for (clockID, owner, var clock) in try self.clocks(db, id) where HandoverRules.clocksMet(by: action).contains(clock.kind) {
                let effects = clock.complete(at: now)
                try self.saveClock(db, clockID, clock)
                try self.clockEffects(db, id, clock, owner: owner, effects, at: now, outbox: &outbox, escalate: false, run: &run)
            }
            if !next.isOpen { try self.cancelClocks(db, id, at: now, kinds: nil) }
            // The contact's stage follows; a contact already further on stays where it is.
            let stage = try String.fetchOne(db, sql: "SELECT lifecycle_stage FROM contacts WHERE id = ?", arguments: [contactID]).flatMap(
                LifecycleStage.init(rawValue:)
            )
            let answer = HandoverPlan.answered(id: id, contactID: contactID, action: action, note: note, actor: actor, stage: stage, config: engine.config, at: now)
            try db.execute(
                sql: """
                    UPDATE handovers SET status = ?, answered_at = coalesce(answered_at, ?), first_touch_at = coalesce(first_touch_at, ?),
                      closed_at = ?, reason = coalesce(?, reason), note = coalesce(?, note) WHERE id = ?
                    """,
                arguments: [next.rawValue, now.milliseconds, now.milliseconds, next.isOpen ? nil : now.milliseconds, answer.reason, note, id]
            )
            try self.log(db, id, at: now, answer.log)
            try outbox.emit(answer.event, at: now)
            if let move = answer.move { try Self.recordTransition(db, contactID, move) }
            try self.reactToTransitions(db, at: now)
            guard let out = try self.view(db, id: id, at: now) else { throw StoreError.missing("no handover \(id)") }
            return out
        }
    }

    /// Gives a handover to a rep (`to`), or routes it again when `to` is nil.
    public func reassignHandover(id: Int64, to: String?, actor: Actor, at now: Timestamp) async throws -> HandoverView {
        try await writeRefreshingKPIs { db in
            guard let engine = try self.activeHandover(db) else { throw StoreError.conflict("no handover configuration is active") }
            guard let owner = try String.fetchOne(db, sql: "SELECT owner_id FROM handovers WHERE id = ?", arguments: [id]) else {
                throw StoreError.missing("no handover \(id)")
            }
            var outbox = try Outbox(db)
            try self.reassign(db, engine, id, to: to, excluding: to == nil ? [owner] : [], actor: "user:" + actor.userID, at: now, outbox: &outbox)
            guard let out = try self.view(db, id: id, at: now) else { throw StoreError.missing("no handover \(id)") }
            return out
        }
    }

    /// Whether `userID` manages the team that holds the handover's owner (or the queue).
    public func manages(userID: String, handoverOwner: String) async throws -> Bool {
        try await pool.read { db in
            guard let config = try self.activeHandover(db)?.config else { return false }
            if config.team(of: handoverOwner)?.manager == userID { return true }
            if config.router.fallbackOwner == userID { return true }
            return try String.fetchOne(db, sql: "SELECT manager_id FROM users WHERE id = ?", arguments: [handoverOwner]) == userID
        }
    }

    // MARK: The breach service

    /// Fires every warning and breach due at `now`, each exactly once: the clock's new state, the
    /// log entry, the webhook deliveries and any escalation commit in one transaction, and the
    /// due-clock index no longer lists the clock. Runs until no due clock is left.
    public func processDueClocks(now: Timestamp, limit: Int = 500) async throws -> DueRun {
        var total = DueRun()
        while true {
            let (run, more) = try await writeRefreshingKPIs { db -> (DueRun, Bool) in
                var run = DueRun()
                let rows = try Row.fetchAll(
                    db.cachedStatement(
                        sql: "SELECT id, handover_id, owner_id, state FROM sla_clocks WHERE next_at IS NOT NULL AND next_at <= ? ORDER BY next_at, id LIMIT ?"
                    ),
                    arguments: [now.milliseconds, limit]
                )
                var outbox = try Outbox(db)
                for row in rows {
                    let clockID: Int64 = row[0]
                    let handover: Int64 = row[1]
                    // An escalation earlier in this run may have cancelled this clock.
                    guard let state = try String.fetchOne(db.cachedStatement(sql: "SELECT state FROM sla_clocks WHERE id = ?"), arguments: [clockID]),
                        var clock = Self.decode(SLAClock.self, state)
                    else { continue }
                    run.clocksSeen += 1
                    let effects = clock.tick(now: now)
                    try self.saveClock(db, clockID, clock)
                    try self.clockEffects(db, handover, clock, owner: row[2], effects, at: now, outbox: &outbox, escalate: true, run: &run)
                }
                return (run, rows.count == limit)
            }
            total.clocksSeen += run.clocksSeen
            total.warnings += run.warnings
            total.breaches += run.breaches
            total.reassigned += run.reassigned
            total.requeued += run.requeued
            if !more { break }
        }
        total.nextDue = try await nextDueClock()
        return total
    }

    /// The earliest instant a clock needs the breach service.
    public func nextDueClock() async throws -> Timestamp? {
        try await pool.read { db in
            try Int64.fetchOne(db.cachedStatement(sql: "SELECT min(next_at) FROM sla_clocks WHERE next_at IS NOT NULL")).map { Timestamp(milliseconds: $0) }
        }
    }

    /// Pauses or resumes a handover's running clocks (a lead waiting on the customer).
    public func pauseHandover(id: Int64, pause: Bool, actor: Actor, at now: Timestamp) async throws -> HandoverView {
        try await writeRefreshingKPIs { db in
            let config = try self.activeHandover(db)?.config
            guard try Int.fetchOne(db, sql: "SELECT 1 FROM handovers WHERE id = ? AND status IN \(Self.openStatuses)", arguments: [id]) != nil else {
                throw StoreError.conflict("handover \(id) is not open")
            }
            for (clockID, owner, var clock) in try self.clocks(db, id) {
                let cal = HandoverRules.calendar(for: clock, owner: owner, config: config)
                if pause { clock.pause(at: now, calendar: cal) } else { clock.resume(at: now, calendar: cal) }
                try self.saveClock(db, clockID, clock)
            }
            try self.log(db, id, at: now, actor: "user:" + actor.userID, action: pause ? "paused" : "resumed", detail: "{}")
            guard let out = try self.view(db, id: id, at: now) else { throw StoreError.missing("no handover \(id)") }
            return out
        }
    }
}
