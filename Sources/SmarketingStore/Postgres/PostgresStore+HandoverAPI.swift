import Foundation
import SmarketingCore

/// The handover role on PostgreSQL: configurations, handovers and answers, the breach service,
/// the inbox and reports, webhooks. Decisions and aggregations are `HandoverPlan`'s and
/// `HandoverReports`'s; this file reads and writes rows, locking what several instances could
/// change at once.
extension PostgresStore: HandoverStore {
    // MARK: Configuration

    public func applyHandoverConfig(text: String, config: HandoverConfig, comment: String, actor: Actor, at: Timestamp) async throws -> HandoverConfigVersion {
        try await write { c in
            let known = try await Self.existing(c, "users", Array(config.userIDs))
            let unknown = config.userIDs.subtracting(known).sorted()
            if !unknown.isEmpty {
                throw StoreError.invalid("the configuration names users the workspace does not have: " + unknown.joined(separator: ", "))
            }
            // Versions are numbered under a lock: two applies at once get two numbers.
            try await c.execute("LOCK TABLE handover_configs IN EXCLUSIVE MODE")
            let version = Int(clamping: try await c.one("SELECT coalesce(max(version), 0) + 1 FROM handover_configs")?.int(0) ?? 1)
            // The aggregates follow the new teams and calendars: only the moved reps' contacts and
            // deals are refreshed (when they were current), else the refresh rebuilds them.
            let old = handoverParser == nil ? nil : try await self.activeHandover(c)?.config
            let settings = try await Self.kpiSettings(c)
            if let moved = KPIRules.handoverChange(from: old, to: config),
                try await c.one("SELECT built_with FROM kpi_state WHERE id = 1")?.text(0) == KPIRules.buildKey(settings, handover: old)
            {
                // As a rebuild does: no other refresh runs while the moved reps are marked.
                try await c.execute("SELECT pg_advisory_xact_lock(?)", [.int(Self.kpiLock)])
                let reps = PGValue.textArray(moved.sorted())
                try await c.execute("INSERT INTO kpi_dirty SELECT 'c', id FROM contacts WHERE owner_id = ANY(?::text[])", [reps])
                try await c.execute("INSERT INTO kpi_dirty SELECT 'd', id FROM opportunities WHERE owner_id = ANY(?::text[])", [reps])
                try await c.execute("UPDATE kpi_state SET built_with = ? WHERE id = 1", [.text(KPIRules.buildKey(settings, handover: config))])
            }
            try await c.execute("UPDATE handover_configs SET active = 0 WHERE active = 1")
            try await c.execute(
                "INSERT INTO handover_configs (version, text, applied_at, author, comment, active) VALUES (?, ?, ?, ?, ?, 1)",
                [.int(Int64(version)), .text(text), .int(at.milliseconds), .text(actor.userID), .text(comment)]
            )
            try await Self.audit(c, actor, at, "apply", "handover_config", String(version), StoredJSON.encode(["comment": comment]))
            return HandoverConfigVersion(version: version, appliedAt: at, author: actor.userID, comment: comment, active: true)
        }
    }

    public func routeWaitingMQLs(at now: Timestamp) async throws -> Int {
        try await write { c in
            guard let engine = try await self.activeHandover(c) else { throw StoreError.conflict("no handover configuration is active") }
            let ids = try await c.rows(
                """
                SELECT c.id FROM contacts c WHERE c.lifecycle_stage = 'mql'
                AND NOT EXISTS (SELECT 1 FROM handovers h WHERE h.contact_id = c.id) ORDER BY c.became_mql_at, c.id
                """
            ).compactMap { $0.text(0) }
            var outbox = try await PGOutbox(c)
            for id in ids { try await self.openHandover(c, engine, id, at: now, outbox: &outbox) }
            return ids.count
        }
    }

    static func configVersion(_ row: PGRow) -> HandoverConfigVersion {
        HandoverConfigVersion(
            version: Int(clamping: row.int(0) ?? 0),
            appliedAt: Timestamp(milliseconds: row.int(1) ?? 0),
            author: row.text(2) ?? "",
            comment: row.text(3) ?? "",
            active: row.int(4) == 1
        )
    }

    public func handoverConfigVersions() async throws -> [HandoverConfigVersion] {
        try await read { c in
            try await c.rows("SELECT version, applied_at, author, comment, active FROM handover_configs ORDER BY version DESC").map(Self.configVersion)
        }
    }

    public func activeHandoverConfigText() async throws -> (HandoverConfigVersion, String)? {
        try await read { c in
            try await c.one("SELECT version, applied_at, author, comment, active, text FROM handover_configs WHERE active = 1").map {
                (Self.configVersion($0), $0.text(5) ?? "")
            }
        }
    }

    // MARK: Handovers

    static let handoverColumns = """
        id, contact_id, status, owner_id, queue, team, segment, policy, grade, channel, campaign_id, rule, routing, config_version,
        created_at, assigned_at, answered_at, first_touch_at, closed_at, reason, note
        """

    func view(_ c: PGConn, _ row: PGRow, config: HandoverConfig?, at now: Timestamp, log withLog: Bool) async throws -> HandoverView {
        let id = row.int(0) ?? 0
        func ts(_ i: Int) -> Timestamp? { row.int(i).map(Timestamp.init(milliseconds:)) }
        let clocks = try await Self.clocks(c, id).map { HandoverPlan.storedClock(id: $0.id, owner: $0.owner, clock: $0.clock, config: config, at: now) }
        var log: [HandoverLogEntry]?
        if withLog {
            log = try await c.rows("SELECT at, actor, action, detail FROM handover_log WHERE handover_id = ? ORDER BY seq", [.int(id)]).map {
                HandoverLogEntry(at: Timestamp(milliseconds: $0.int(0) ?? 0), actor: $0.text(1) ?? "", action: $0.text(2) ?? "", detail: $0.text(3) ?? "")
            }
        }
        return HandoverView(
            id: id,
            contactID: row.text(1) ?? "",
            status: HandoverStatus(rawValue: row.text(2) ?? "") ?? .closed,
            ownerID: row.text(3) ?? "",
            queue: row.text(4),
            team: row.text(5),
            segment: row.text(6),
            policy: row.text(7),
            grade: row.text(8),
            channel: row.text(9),
            campaignID: row.text(10),
            rule: row.text(11) ?? "",
            routing: StoredJSON.decode(RoutingDecision.self, row.text(12) ?? ""),
            configVersion: Int(clamping: row.int(13) ?? 0),
            createdAt: Timestamp(milliseconds: row.int(14) ?? 0),
            assignedAt: ts(15),
            answeredAt: ts(16),
            firstTouchAt: ts(17),
            closedAt: ts(18),
            reason: row.text(19),
            note: row.text(20),
            clocks: clocks,
            log: log
        )
    }

    func view(_ c: PGConn, id: Int64, at now: Timestamp) async throws -> HandoverView? {
        guard let row = try await c.one("SELECT \(Self.handoverColumns) FROM handovers WHERE id = ?", [.int(id)]) else { return nil }
        return try await view(c, row, config: try await activeHandover(c)?.config, at: now, log: true)
    }

    public func handovers(_ q: HandoverQuery, at now: Timestamp) async throws -> [HandoverView] {
        try await read { c in
            var sql = "SELECT \(Self.handoverColumns) FROM handovers WHERE id < ?"
            var args: [PGValue] = [.int(q.before ?? Int64.max)]
            if let o = q.ownerID {
                sql += " AND owner_id = ?"
                args.append(.text(o))
            }
            if let contact = q.contactID {
                sql += " AND contact_id = ?"
                args.append(.text(contact))
            }
            if q.openOnly { sql += " AND status IN \(HandoverPlan.openStatuses)" }
            if let s = q.status {
                sql += " AND status = ?"
                args.append(.text(s.rawValue))
            }
            sql += " ORDER BY id DESC LIMIT ?"
            args.append(.int(Int64(max(0, min(q.limit, 10_000)))))
            let config = try await self.activeHandover(c)?.config
            var out: [HandoverView] = []
            for row in try await c.rows(sql, args) { out.append(try await self.view(c, row, config: config, at: now, log: false)) }
            return out
        }
    }

    public func handover(id: Int64, at now: Timestamp) async throws -> HandoverView? {
        try await read { c in try await self.view(c, id: id, at: now) }
    }

    /// Locks a handover's contact, then the handover (the order ingest takes: contact first).
    static func lockHandover(_ c: PGConn, _ id: Int64) async throws -> (contactID: String, status: HandoverStatus, owner: String) {
        guard let contact = try await c.one("SELECT contact_id FROM handovers WHERE id = ?", [.int(id)])?.text(0) else {
            throw StoreError.missing("no handover \(id)")
        }
        try await c.execute("SELECT 1 FROM contacts WHERE id = ? FOR NO KEY UPDATE", [.text(contact)])
        guard let row = try await c.one("SELECT contact_id, status, owner_id FROM handovers WHERE id = ? FOR UPDATE", [.int(id)]) else {
            throw StoreError.missing("no handover \(id)")
        }
        return (row.text(0) ?? contact, HandoverStatus(rawValue: row.text(1) ?? "") ?? .closed, row.text(2) ?? "")
    }

    public func actOnHandover(id: Int64, action: HandoverAction, note: String?, actor: Actor, at now: Timestamp) async throws -> HandoverView {
        try await write { c in
            guard let engine = try await self.activeHandover(c) else { throw StoreError.conflict("no handover configuration is active") }
            let (contactID, status, _) = try await Self.lockHandover(c, id)
            let next: HandoverStatus
            switch HandoverRules.apply(action, to: status, reasons: engine.config.reasons) {
            case .success(let s): next = s
            case .failure(let refusal): throw StoreError.conflict(refusal.description)
            }
            var outbox = try await PGOutbox(c)
            var run = DueRun()
            for (clockID, owner, var clock) in try await Self.clocks(c, id) where HandoverRules.clocksMet(by: action).contains(clock.kind) {
                let effects = clock.complete(at: now)
                try await Self.saveClock(c, clockID, clock)
                try await self.clockEffects(c, id, clock, owner: owner, effects, at: now, outbox: &outbox, escalate: false, run: &run)
            }
            if !next.isOpen { try await Self.cancelClocks(c, id, at: now, kinds: nil) }
            let stage = try await c.one("SELECT lifecycle_stage FROM contacts WHERE id = ?", [.text(contactID)])?.text(0).flatMap(LifecycleStage.init(rawValue:))
            let answer = HandoverPlan.answered(id: id, contactID: contactID, action: action, note: note, actor: actor, stage: stage, config: engine.config, at: now)
            try await c.execute(
                """
                UPDATE handovers SET status = ?, answered_at = coalesce(answered_at, ?), first_touch_at = coalesce(first_touch_at, ?),
                  closed_at = ?, reason = coalesce(?, reason), note = coalesce(?, note) WHERE id = ?
                """,
                [
                    .text(next.rawValue), .int(now.milliseconds), .int(now.milliseconds), next.isOpen ? .null : .int(now.milliseconds), .of(answer.reason),
                    .of(note), .int(id),
                ]
            )
            try await Self.log(c, id, at: now, answer.log)
            try await outbox.emit(answer.event, at: now)
            if let move = answer.move { try await Self.recordTransition(c, contactID, move) }
            try await self.reactToTransitions(c, at: now)
            guard let out = try await self.view(c, id: id, at: now) else { throw StoreError.missing("no handover \(id)") }
            return out
        }
    }

    public func reassignHandover(id: Int64, to: String?, actor: Actor, at now: Timestamp) async throws -> HandoverView {
        try await write { c in
            guard let engine = try await self.activeHandover(c) else { throw StoreError.conflict("no handover configuration is active") }
            let (_, _, owner) = try await Self.lockHandover(c, id)
            var outbox = try await PGOutbox(c)
            try await self.reassign(c, engine, id, to: to, excluding: to == nil ? [owner] : [], actor: "user:" + actor.userID, at: now, outbox: &outbox)
            guard let out = try await self.view(c, id: id, at: now) else { throw StoreError.missing("no handover \(id)") }
            return out
        }
    }

    public func manages(userID: String, handoverOwner: String) async throws -> Bool {
        try await read { c in
            guard let config = try await self.activeHandover(c)?.config else { return false }
            if config.team(of: handoverOwner)?.manager == userID { return true }
            if config.router.fallbackOwner == userID { return true }
            return try await c.one("SELECT manager_id FROM users WHERE id = ?", [.text(handoverOwner)])?.text(0) == userID
        }
    }

    public func pauseHandover(id: Int64, pause: Bool, actor: Actor, at now: Timestamp) async throws -> HandoverView {
        try await write { c in
            let config = try await self.activeHandover(c)?.config
            let (_, status, _) = try await Self.lockHandover(c, id)
            guard status.isOpen else { throw StoreError.conflict("handover \(id) is not open") }
            for (clockID, owner, var clock) in try await Self.clocks(c, id) {
                let cal = HandoverRules.calendar(for: clock, owner: owner, config: config)
                if pause { clock.pause(at: now, calendar: cal) } else { clock.resume(at: now, calendar: cal) }
                try await Self.saveClock(c, clockID, clock)
            }
            try await Self.log(c, id, at: now, HandoverLogLine(actor: "user:" + actor.userID, action: pause ? "paused" : "resumed", detail: "{}"))
            guard let out = try await self.view(c, id: id, at: now) else { throw StoreError.missing("no handover \(id)") }
            return out
        }
    }

    // MARK: The breach service

    /// Fires every warning and breach due at `now`, each exactly once across instances: a run
    /// takes the handovers with due clocks that no other run holds (`FOR UPDATE SKIP LOCKED`),
    /// and reads their clocks again under that lock.
    public func processDueClocks(now: Timestamp, limit: Int = 500) async throws -> DueRun {
        var total = DueRun()
        let limit = max(1, min(limit, 10_000))
        while true {
            let (run, more) = try await write { c -> (DueRun, Bool) in
                var run = DueRun()
                let handovers = try await c.rows(
                    """
                    SELECT id FROM handovers WHERE id IN (SELECT handover_id FROM sla_clocks WHERE next_at IS NOT NULL AND next_at <= ?)
                    ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED
                    """,
                    [.int(now.milliseconds), .int(Int64(limit))]
                ).compactMap { $0.int(0) }
                var outbox = try await PGOutbox(c)
                for handover in handovers {
                    let due = try await c.rows(
                        "SELECT id, owner_id, state FROM sla_clocks WHERE handover_id = ? AND next_at IS NOT NULL AND next_at <= ? ORDER BY next_at, id",
                        [.int(handover), .int(now.milliseconds)]
                    )
                    for row in due {
                        guard let clockID = row.int(0),
                            // An escalation earlier in this run may have changed this clock.
                            let state = try await c.one("SELECT state FROM sla_clocks WHERE id = ?", [.int(clockID)])?.text(0),
                            var clock = StoredJSON.decode(SLAClock.self, state)
                        else { continue }
                        run.clocksSeen += 1
                        let effects = clock.tick(now: now)
                        try await Self.saveClock(c, clockID, clock)
                        try await self.clockEffects(c, handover, clock, owner: row.text(1), effects, at: now, outbox: &outbox, escalate: true, run: &run)
                    }
                }
                return (run, handovers.count == limit)
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

    public func nextDueClock() async throws -> Timestamp? {
        try await read { c in try await c.one("SELECT min(next_at) FROM sla_clocks WHERE next_at IS NOT NULL")?.int(0).map(Timestamp.init(milliseconds:)) }
    }

    // MARK: Inbox and reports

    public func inbox(userID: String, at now: Timestamp, limit: Int) async throws -> [InboxItem] {
        let items = try await read { c -> [InboxItem] in
            let rows = try await c.rows(
                "SELECT \(Self.handoverColumns) FROM handovers WHERE owner_id = ? AND status IN \(HandoverPlan.openStatuses) ORDER BY id",
                [.text(userID)]
            )
            let config = try await self.activeHandover(c)?.config
            var out: [InboxItem] = []
            for row in rows {
                let h = try await self.view(c, row, config: config, at: now, log: false)
                guard let x = try await c.one(HandoverReports.inboxContactSQL, [.text(h.contactID)]) else { continue }
                let touches = try await c.rows(HandoverReports.inboxTouchesSQL, [.text(h.contactID)]).map {
                    InboxTouch(type: $0.text(0) ?? "", at: Timestamp(milliseconds: $0.int(1) ?? 0), channel: $0.text(2), campaignID: $0.text(3), contentID: $0.text(4))
                }
                let stage = HandoverRules.contentStage(for: x.text(5).flatMap(LifecycleStage.init(rawValue:)))
                var content = try await Self.recommended(c, persona: x.text(8), stage: stage)
                if content.isEmpty { content = try await Self.recommended(c, persona: nil, stage: stage) }
                out.append(
                    HandoverReports.item(
                        h,
                        first: x.text(0),
                        last: x.text(1),
                        email: x.text(2) ?? "",
                        title: x.text(3),
                        accountName: x.text(4),
                        stage: x.text(5),
                        grade: x.text(6),
                        engagement: x.double(7),
                        persona: x.text(8),
                        personaName: x.text(10),
                        fit: x.double(9),
                        touches: touches,
                        content: content
                    )
                )
            }
            return HandoverReports.sorted(out)
        }
        var shown = Array(items.prefix(max(0, limit)))
        for i in shown.indices {
            guard let e = try await scoreExplanation(contactID: shown[i].contact.id, at: now) else { continue }
            HandoverReports.explain(&shown[i], e)
        }
        return shown
    }

    static func recommended(_ c: PGConn, persona: String?, stage: String) async throws -> [RecommendedContent] {
        let (sql, args) = HandoverReports.recommendedSQL(persona: persona, stage: stage)
        return try await c.rows(sql, args.map { .text($0) }).map {
            RecommendedContent(id: $0.text(0) ?? "", title: $0.text(1) ?? "", type: $0.text(2) ?? "", funnelStage: $0.text(3), url: $0.text(4))
        }
    }

    func reportHandovers(_ c: PGConn, from: Timestamp, to: Timestamp) async throws -> [HandoverReports.ReportHandover] {
        let range: [PGValue] = [.int(from.milliseconds), .int(to.milliseconds)]
        var clocks: [Int64: [(kind: ClockKind, owner: String?, status: ClockStatus)]] = [:]
        for row in try await c.rows(HandoverReports.reportClocksSQL, range) {
            guard let id = row.int(0), let kind = ClockKind(rawValue: row.text(1) ?? ""), let status = ClockStatus(rawValue: row.text(3) ?? "") else { continue }
            clocks[id, default: []].append((kind, row.text(2), status))
        }
        return try await c.rows(HandoverReports.reportSQL, range).map { r in
            HandoverReports.ReportHandover(
                id: r.int(0) ?? 0,
                owner: r.text(1) ?? "",
                team: r.text(2),
                segment: r.text(3),
                campaign: r.text(4),
                channel: r.text(5),
                policy: r.text(6),
                status: r.text(7) ?? "",
                reason: r.text(8),
                assignedAt: r.int(9),
                answeredAt: r.int(10),
                firstTouchAt: r.int(11),
                clocks: clocks[r.int(0) ?? 0] ?? []
            )
        }
    }

    public func slaReport(from: Timestamp, to: Timestamp, by: ReportGrouping) async throws -> [SLAReportRow] {
        try await reportRead { c in
            HandoverReports.sla(try await self.reportHandovers(c, from: from, to: to), by: by, config: try await self.activeHandover(c)?.config)
        }
    }

    public func acceptanceReport(from: Timestamp, to: Timestamp, by: ReportGrouping) async throws -> [AcceptanceRow] {
        try await reportRead { c in HandoverReports.acceptance(try await self.reportHandovers(c, from: from, to: to), by: by) }
    }

    public func commitments(month: LocalDate, at now: Timestamp) async throws -> [Commitment] {
        // The month in the workspace's time zone (`workspace.timezone`).
        let window = Commitment.window(month: month, at: now, in: try await workspaceSettings().settings.timeZone)
        let (targets, mqls, pipeline, segments) = try await reportRead { c in
            let range: [PGValue] = [.int(window.start.milliseconds), .int(window.end.milliseconds)]
            let targets = try await c.rows(HandoverReports.targetsSQL, [.text(String(LocalDate(year: month.year, month: month.month, day: 1).text.prefix(7)))]).map {
                (metric: $0.text(0) ?? "", segment: $0.text(1), value: $0.double(2) ?? 0)
            }
            let mqls = try await c.rows(HandoverReports.monthMQLsSQL, range).compactMap { $0.text(0) }
            let pipeline = try await c.rows(HandoverReports.monthPipelineSQL, range).map { (contactID: $0.text(0), amount: $0.double(1) ?? 0) }
            var segments: [String: String] = [:]
            if let config = try await self.activeHandover(c)?.config, !targets.isEmpty {
                for id in Set(mqls + pipeline.compactMap(\.contactID)) {
                    if let s = try await Self.handoverAttributes(c, id).flatMap({ config.segment(of: $0) }) { segments[id] = s }
                }
            }
            return (targets, mqls, pipeline, segments)
        }
        guard !targets.isEmpty else { return [] }
        return try await HandoverReports.commitments(targets: targets, mqlContacts: mqls, pipeline: pipeline, elapsed: window.elapsed) { id in
            id.flatMap { segments[$0] }
        }
    }

    // MARK: Webhooks

    public func createWebhook(url: String, events: [String], format: String, secret: String, actor: Actor, at: Timestamp) async throws -> WebhookSubscription {
        try await write { c in
            let id = self.makeID("wh")
            try await c.execute(
                "INSERT INTO webhook_subscriptions (id, url, events, secret, format, active, created_at) VALUES (?, ?, ?, ?, ?, 1, ?)",
                [.text(id), .text(url), .text(events.joined(separator: ",")), .text(secret), .text(format), .int(at.milliseconds)]
            )
            // The secret is never written to the audit log.
            try await Self.audit(c, actor, at, "create", "webhooks", id, StoredJSON.encode(["url": url, "events": events, "format": format]))
            return WebhookSubscription(id: id, url: url, events: events, format: format, active: true, createdAt: at)
        }
    }

    public func rewriteWebhookSecrets(_ transform: @escaping @Sendable (String) throws -> String?) async throws -> Int {
        try await write { c in
            var changed = 0
            for row in try await c.rows("SELECT id, secret FROM webhook_subscriptions ORDER BY id FOR UPDATE") {
                guard let id = row.text(0), let stored = row.text(1), let next = try transform(stored), next != stored else { continue }
                try await c.execute("UPDATE webhook_subscriptions SET secret = ? WHERE id = ?", [.text(next), .text(id)])
                changed += 1
            }
            return changed
        }
    }

    public func webhooks() async throws -> [WebhookSubscription] {
        try await read { c in
            try await c.rows("SELECT id, url, events, format, active, created_at FROM webhook_subscriptions ORDER BY created_at, id").map {
                WebhookSubscription(
                    id: $0.text(0) ?? "",
                    url: $0.text(1) ?? "",
                    events: ($0.text(2) ?? "").split(separator: ",").map(String.init),
                    format: $0.text(3) ?? "",
                    active: $0.int(4) == 1,
                    createdAt: Timestamp(milliseconds: $0.int(5) ?? 0)
                )
            }
        }
    }

    public func deactivateWebhook(id: String, actor: Actor, at: Timestamp) async throws {
        try await write { c in
            guard try await c.execute("UPDATE webhook_subscriptions SET active = 0 WHERE id = ? RETURNING 1", [.text(id)]) > 0 else {
                throw StoreError.missing("no webhook subscription \"\(id)\"")
            }
            try await c.execute(
                "UPDATE webhook_deliveries SET status = 'failed', last_error = 'subscription deactivated' WHERE subscription_id = ? AND status = 'pending'",
                [.text(id)]
            )
            try await Self.audit(c, actor, at, "deactivate", "webhooks", id, "{}")
        }
    }

    /// How long a dispatcher holds the deliveries it took before another instance may send them.
    static let deliveryLeaseMs: Int64 = 120_000

    /// Deliveries to send now, taken for this dispatcher: per subscription in outbox order; a
    /// subject waits while its oldest pending delivery waits for a retry or is out with another
    /// instance. A subscription another instance is taking deliveries of right now is skipped
    /// this round (`SKIP LOCKED`), so two dispatchers never take one subject's deliveries apart.
    public func dueDeliveries(now: Timestamp, perSubscription: Int = 200) async throws -> [PendingDelivery] {
        let per = Int64(max(1, min(perSubscription, 10_000)))
        return try await write { c in
            var out: [PendingDelivery] = []
            let subs = try await c.rows("SELECT id, url, secret, format FROM webhook_subscriptions WHERE active = 1 ORDER BY id FOR UPDATE SKIP LOCKED")
            for sub in subs {
                guard let subID = sub.text(0) else { continue }
                let rows = try await c.rows(
                    """
                    SELECT d.id, d.next_attempt_at, o.seq, o.type, o.at, o.payload, d.attempts, o.subject, d.claimed_until,
                      (SELECT status FROM contact_consent cc WHERE cc.contact_id = o.subject) FROM webhook_deliveries d
                    JOIN outbox o ON o.seq = d.outbox_seq
                    WHERE d.subscription_id = ? AND d.status = 'pending' ORDER BY d.id LIMIT ?
                    """,
                    [.text(subID), .int(per)]
                )
                var waiting: Set<String> = []
                var taken: [Int64] = []
                for row in rows {
                    let subject = row.text(7) ?? ""
                    if waiting.contains(subject) { continue }
                    guard let id = row.int(0), let next = row.int(1), next <= now.milliseconds, (row.int(8) ?? Int64.min) <= now.milliseconds else {
                        waiting.insert(subject)
                        continue
                    }
                    taken.append(id)
                    out.append(
                        PendingDelivery(
                            id: id,
                            subscriptionID: subID,
                            url: sub.text(1) ?? "",
                            secret: sub.text(2) ?? "",
                            format: sub.text(3) ?? "",
                            seq: row.int(2) ?? 0,
                            eventType: row.text(3) ?? "",
                            at: Timestamp(milliseconds: row.int(4) ?? 0),
                            subject: subject,
                            payload: row.text(5) ?? "",
                            attempts: Int(clamping: row.int(6) ?? 0),
                            consent: row.text(9)
                        )
                    )
                }
                if !taken.isEmpty {
                    try await c.execute(
                        "UPDATE webhook_deliveries SET claimed_until = ? WHERE id = ANY(?::bigint[])",
                        [.int(now.milliseconds + Self.deliveryLeaseMs), .textArray(taken.map(String.init))]
                    )
                }
            }
            return out
        }
    }

    /// Records attempts (delivered, retried later with backoff, or failed after the last attempt)
    /// and gives back the deliveries of a subject held behind a failure.
    public func recordDeliveries(_ attempts: [DeliveryAttempt], at now: Timestamp) async throws {
        guard !attempts.isEmpty else { return }
        try await write { c in
            for a in attempts {
                if a.ok {
                    try await c.execute(
                        """
                        UPDATE webhook_deliveries SET status = 'delivered', attempts = attempts + 1, last_status = ?, last_error = NULL,
                          delivered_at = ?, next_attempt_at = NULL, claimed_until = NULL WHERE id = ?
                        """,
                        [.of(a.status.map(Int64.init)), .int(now.milliseconds), .int(a.id)]
                    )
                } else {
                    let n = Int(clamping: (try await c.one("SELECT attempts FROM webhook_deliveries WHERE id = ?", [.int(a.id)])?.int(0) ?? 0) + 1)
                    let next: Int64?
                    switch DeliveryRetry.afterFailure(attempt: n, now: now) {
                    case .retry(let at): next = at.milliseconds
                    case .failed: next = nil
                    }
                    try await c.execute(
                        "UPDATE webhook_deliveries SET status = ?, attempts = ?, last_status = ?, last_error = ?, next_attempt_at = ?, claimed_until = NULL WHERE id = ?",
                        [.text(next == nil ? "failed" : "pending"), .int(Int64(n)), .of(a.status.map(Int64.init)), .of(a.error), .of(next), .int(a.id)]
                    )
                    // The same subject's later deliveries were taken with it and not sent.
                    try await c.execute(
                        """
                        UPDATE webhook_deliveries d SET claimed_until = NULL FROM outbox o, webhook_deliveries f, outbox fo
                        WHERE f.id = ? AND fo.seq = f.outbox_seq AND d.subscription_id = f.subscription_id AND d.id > f.id
                          AND o.seq = d.outbox_seq AND o.subject = fo.subject AND d.status = 'pending'
                        """,
                        [.int(a.id)]
                    )
                }
            }
        }
    }

    public func deliveries(subscriptionID: String?, status: String?, limit: Int) async throws -> [WebhookDelivery] {
        try await read { c in
            var sql = """
                SELECT d.id, d.subscription_id, d.outbox_seq, o.type, d.status, d.attempts, d.next_attempt_at, d.last_status, d.last_error, d.delivered_at
                FROM webhook_deliveries d JOIN outbox o ON o.seq = d.outbox_seq WHERE TRUE
                """
            var args: [PGValue] = []
            if let s = subscriptionID {
                sql += " AND d.subscription_id = ?"
                args.append(.text(s))
            }
            if let s = status {
                sql += " AND d.status = ?"
                args.append(.text(s))
            }
            sql += " ORDER BY d.id DESC LIMIT ?"
            args.append(.int(Int64(max(0, min(limit, 100_000)))))
            return try await c.rows(sql, args).map {
                WebhookDelivery(
                    id: $0.int(0) ?? 0,
                    subscriptionID: $0.text(1) ?? "",
                    seq: $0.int(2) ?? 0,
                    eventType: $0.text(3) ?? "",
                    status: $0.text(4) ?? "",
                    attempts: Int(clamping: $0.int(5) ?? 0),
                    nextAttemptAt: $0.int(6).map(Timestamp.init(milliseconds:)),
                    lastStatus: $0.int(7).map { Int(clamping: $0) },
                    lastError: $0.text(8),
                    deliveredAt: $0.int(9).map(Timestamp.init(milliseconds:))
                )
            }
        }
    }

    public func replayDeliveries(subscriptionID: String, fromSeq: Int64?, deliveryID: Int64?, actor: Actor, at now: Timestamp) async throws -> Int {
        try await write { c in
            guard try await Self.exists(c, "webhook_subscriptions", subscriptionID) else {
                throw StoreError.missing("no webhook subscription \"\(subscriptionID)\"")
            }
            var sql = "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = ?, claimed_until = NULL WHERE subscription_id = ?"
            var args: [PGValue] = [.int(now.milliseconds), .text(subscriptionID)]
            if let d = deliveryID {
                sql += " AND id = ?"
                args.append(.int(d))
            }
            if let s = fromSeq {
                sql += " AND outbox_seq >= ?"
                args.append(.int(s))
            }
            let n = try await c.execute(sql + " RETURNING 1", args)
            if let d = deliveryID, n == 0 { throw StoreError.missing("no delivery \(d) for subscription \"\(subscriptionID)\"") }
            try await Self.audit(c, actor, now, "replay", "webhooks", subscriptionID, "{\"deliveries\":\(n)}")
            return n
        }
    }

    static func exists(_ c: PGConn, _ table: String, _ id: String) async throws -> Bool {
        try await c.one("SELECT 1 FROM \(table) WHERE id = ?", [.text(id)]) != nil
    }
}
