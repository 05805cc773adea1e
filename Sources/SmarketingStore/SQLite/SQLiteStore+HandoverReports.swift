import Foundation
import GRDB
import SmarketingCore

/// The rep's inbox, SLA and acceptance reports, and marketing's commitments.
extension SQLiteStore {
    // MARK: Inbox

    /// The open handovers a rep owns, most urgent first (earliest due running clock; handovers
    /// without a running clock last, oldest first), each with why it is hot.
    public func inbox(userID: String, at now: Timestamp, limit: Int) async throws -> [InboxItem] {
        let items = try await pool.read { db -> [InboxItem] in
            let rows = try Row.fetchAll(
                db,
                sql: "SELECT \(Self.handoverColumns) FROM handovers WHERE owner_id = ? AND status IN \(Self.openStatuses) ORDER BY id",
                arguments: [userID]
            )
            let config = try self.activeHandover(db)?.config
            var out: [InboxItem] = []
            for row in rows {
                let h = try self.view(db, row, config: config, at: now, log: false)
                let next = h.clocks.filter { $0.status == .running }.map(\.dueAt).min()
                guard
                    let c = try Row.fetchOne(
                        db,
                        sql: """
                            SELECT c.first_name, c.last_name, c.email, c.title, a.name, c.lifecycle_stage, s.grade, s.engagement, c.persona_id, s.fit
                            FROM contacts c LEFT JOIN accounts a ON a.id = c.account_id LEFT JOIN contact_scores s ON s.contact_id = c.id
                            WHERE c.id = ?
                            """,
                        arguments: [h.contactID]
                    )
                else { continue }
                let name = [c[0] as String?, c[1] as String?].compactMap { $0 }.joined(separator: " ")
                let contact = InboxContact(
                    id: h.contactID,
                    name: name.isEmpty ? (c[2] as String) : name,
                    email: c[2],
                    title: c[3],
                    accountName: c[4],
                    stage: c[5],
                    grade: c[6],
                    engagement: c[7],
                    personaID: c[8]
                )
                let touches = try Row.fetchAll(
                    db,
                    sql: "SELECT type, occurred_at, channel, campaign_id, content_id FROM touchpoints WHERE contact_id = ? ORDER BY occurred_at DESC LIMIT 5",
                    arguments: [h.contactID]
                ).map { InboxTouch(type: $0[0], at: Timestamp(milliseconds: $0[1]), channel: $0[2], campaignID: $0[3], contentID: $0[4]) }
                let stage = HandoverRules.contentStage(for: contact.stage.flatMap(LifecycleStage.init(rawValue:)))
                var content = try Self.recommended(db, persona: contact.personaID, stage: stage)
                if content.isEmpty { content = try Self.recommended(db, persona: nil, stage: stage) }
                let why = InboxRules.why(
                    grade: contact.grade,
                    fit: c[9] as Double?,
                    engagement: contact.engagement,
                    persona: contact.personaID,
                    lastTouch: touches.first.map { ($0.type, $0.at) }
                )
                out.append(
                    InboxItem(
                        handover: h,
                        contact: contact,
                        nextDueAt: next,
                        why: why,
                        topContributions: [],
                        lastTouches: touches,
                        recommendedContent: content
                    )
                )
            }
            return out.sorted { InboxRules.moreUrgent(($0.nextDueAt, $0.handover.id), than: ($1.nextDueAt, $1.handover.id)) }
        }
        // The score contributions come from the scoring explanation (a replay per contact), for
        // the page shown only.
        var shown = Array(items.prefix(limit))
        for i in shown.indices {
            guard let e = try await scoreExplanation(contactID: shown[i].contact.id, at: now) else { continue }
            var parts = e.fit.filter { $0.matched && $0.points != 0 }.map { ScoreContribution(rule: $0.ruleID, kind: "fit", points: $0.points) }
            parts += e.engagementParts.filter { $0.contributionNow.magnitude >= 0.5 }.map {
                ScoreContribution(rule: $0.rule, kind: "engagement", points: ($0.contributionNow * 10).rounded() / 10)
            }
            shown[i].topContributions = Array(parts.sorted { $0.points.magnitude > $1.points.magnitude }.prefix(5))
            if let top = shown[i].topContributions.first {
                shown[i].why.insert(InboxRules.topContribution(rule: top.rule, points: top.points), at: InboxRules.topContributionIndex(in: shown[i].why))
            }
            if e.qualifies { shown[i].why.append(InboxRules.mqlRuleHolds) }
        }
        return shown
    }

    static func recommended(_ db: Database, persona: String?, stage: String) throws -> [RecommendedContent] {
        var sql = "SELECT id, title, type, funnel_stage, url FROM content WHERE funnel_stage = ?"
        var args: [(any DatabaseValueConvertible)?] = [stage]
        if let persona {
            sql += " AND (';' || persona_ids || ';') LIKE ?"
            args.append("%;" + persona + ";%")
        }
        sql += " ORDER BY id LIMIT 3"
        return try Row.fetchAll(db, sql: sql, arguments: StatementArguments(args)).map {
            RecommendedContent(id: $0[0], title: $0[1], type: $0[2], funnelStage: $0[3], url: $0[4])
        }
    }

    // MARK: Reports

    struct ReportHandover {
        var id: Int64
        var keys: [ReportGrouping: String]
        var status: HandoverStatus
        var reason: String?
        var owner: String
        var assignedAt: Timestamp?
        var respondedAt: Timestamp?
        var clocks: [(kind: ClockKind, owner: String?, status: ClockStatus)]
    }

    func reportHandovers(_ db: Database, from: Timestamp, to: Timestamp) throws -> [ReportHandover] {
        let rows = try Row.fetchAll(
            db,
            sql: """
                SELECT id, owner_id, team, segment, campaign_id, channel, policy, status, reason, assigned_at, answered_at, first_touch_at
                FROM handovers WHERE created_at >= ? AND created_at < ? ORDER BY id
                """,
            arguments: [from.milliseconds, to.milliseconds]
        )
        var clocks: [Int64: [(ClockKind, String?, ClockStatus)]] = [:]
        for c in try Row.fetchAll(
            db,
            sql: """
                SELECT k.handover_id, k.kind, k.owner_id, k.status FROM sla_clocks k JOIN handovers h ON h.id = k.handover_id
                WHERE h.created_at >= ? AND h.created_at < ?
                """,
            arguments: [from.milliseconds, to.milliseconds]
        ) {
            guard let kind = ClockKind(rawValue: c[1]), let status = ClockStatus(rawValue: c[3]) else { continue }
            clocks[c[0], default: []].append((kind, c[2], status))
        }
        return rows.map { r in
            ReportHandover(
                id: r[0],
                keys: [
                    .rep: r[1], .team: (r[2] as String?) ?? "(none)", .segment: (r[3] as String?) ?? "(none)",
                    .campaign: (r[4] as String?) ?? "(none)", .channel: (r[5] as String?) ?? "(none)", .policy: (r[6] as String?) ?? "(none)",
                ],
                status: HandoverStatus(rawValue: r[7]) ?? .closed,
                reason: r[8],
                owner: r[1],
                assignedAt: (r[9] as Int64?).map { Timestamp(milliseconds: $0) },
                respondedAt: SLAMetrics.respondedAt(
                    answeredAt: (r[10] as Int64?).map { Timestamp(milliseconds: $0) },
                    firstTouchAt: (r[11] as Int64?).map { Timestamp(milliseconds: $0) }
                ),
                clocks: (clocks[r[0]] ?? []).map { (kind: $0.0, owner: $0.1, status: $0.2) }
            )
        }
    }

    /// SLA compliance of the handovers created in `[from, to)`, grouped. Clocks count for the
    /// rep who held them (a breached clock stays with the rep it breached for); response time
    /// runs from assignment to the first sales action (answer or sales touch), in wall-clock
    /// hours and in the owner's team's business hours. Handovers nobody answered have no
    /// response time; their clocks count as running or breached.
    public func slaReport(from: Timestamp, to: Timestamp, by: ReportGrouping) async throws -> [SLAReportRow] {
        try await pool.read { db in
            let config = try self.activeHandover(db)?.config
            let handovers = try self.reportHandovers(db, from: from, to: to)
            var groups: [String: (ids: Set<Int64>, tally: [String: ClockTally], wall: [Double], business: [Double])] = [:]
            for h in handovers {
                for c in h.clocks {
                    let key = by == .rep ? (c.owner ?? h.owner) : h.keys[by]!
                    var g = groups[key] ?? ([], [:], [], [])
                    g.ids.insert(h.id)
                    g.tally[c.kind.rawValue, default: ClockTally()].count(c.status)
                    groups[key] = g
                }
                let key = h.keys[by]!
                var g = groups[key] ?? ([], [:], [], [])
                g.ids.insert(h.id)
                if let a = h.assignedAt, let r = h.respondedAt, r >= a {
                    g.wall.append(Double(r.milliseconds - a.milliseconds) / 3_600_000)
                    let cal = config?.calendar(forOwner: h.owner) ?? .always()
                    g.business.append(Double(cal.businessTime(from: a, to: r)) / 3_600_000)
                }
                groups[key] = g
            }
            return groups.keys.sorted().map { key in
                let g = groups[key]!
                let wall = g.wall.sorted()
                let business = g.business.sorted()
                return SLAReportRow(
                    group: key,
                    handovers: g.ids.count,
                    clocks: g.tally,
                    compliance: SLAMetrics.compliance(g.tally.values),
                    answered: wall.count,
                    responseMedianBusinessHours: Percentile.of(sorted: business, 0.5),
                    responseP90BusinessHours: Percentile.of(sorted: business, 0.9),
                    responseMedianHours: Percentile.of(sorted: wall, 0.5),
                    responseP90Hours: Percentile.of(sorted: wall, 0.9),
                    responseMeanHours: wall.isEmpty ? nil : wall.reduce(0, +) / Double(wall.count)
                )
            }
        }
    }

    /// Acceptance of the handovers created in `[from, to)`: accepted (incl. qualified) and
    /// rejected with their reasons, per group — lead quality fed back to marketing.
    public func acceptanceReport(from: Timestamp, to: Timestamp, by: ReportGrouping) async throws -> [AcceptanceRow] {
        try await pool.read { db in
            let handovers = try self.reportHandovers(db, from: from, to: to)
            var rows: [String: AcceptanceRow] = [:]
            for h in handovers {
                let key = h.keys[by]!
                var r = rows[key] ?? AcceptanceRow(group: key, handovers: 0, accepted: 0, rejected: 0, open: 0, acceptanceRate: nil, reasons: [:])
                r.handovers += 1
                switch h.status {
                case .accepted, .qualified: r.accepted += 1
                case .rejected:
                    r.rejected += 1
                    r.reasons[h.reason ?? "(none)", default: 0] += 1
                case .queued, .assigned: r.open += 1
                case .closed: break
                }
                rows[key] = r
            }
            return rows.keys.sorted().map { k in
                var r = rows[k]!
                r.acceptanceRate = SLAMetrics.acceptanceRate(accepted: r.accepted, rejected: r.rejected)
                return r
            }
        }
    }

    // MARK: Marketing's side

    /// Marketing's commitments for a month (`targets` rows with metric `mqls` or `pipeline`):
    /// the actual so far (MQL moves in the month; pipeline created in the month), projected to
    /// the month's end at the rate so far (UTC month). A target's segment is matched with the
    /// configuration's segments; a target without a segment counts everything.
    public func commitments(month: LocalDate, at now: Timestamp) async throws -> [Commitment] {
        try await pool.read { db in
            let window = Commitment.window(month: month, at: now)
            let (a, b, elapsed) = (window.start.milliseconds, window.end.milliseconds, window.elapsed)
            let config = try self.activeHandover(db)?.config
            let targets = try Row.fetchAll(
                db,
                sql: "SELECT metric, segment, value FROM targets WHERE period = ? AND metric IN ('mqls', 'pipeline') ORDER BY metric, segment",
                arguments: [String(window.start.utcDate.text.prefix(7))]
            )
            guard !targets.isEmpty else { return [] }
            var segmentOf: [String: String] = [:]
            func segment(_ contactID: String?) throws -> String? {
                guard let contactID, let config else { return nil }
                if let s = segmentOf[contactID] { return s.isEmpty ? nil : s }
                let s = try Self.handoverAttributes(db, contactID).flatMap { config.segment(of: $0) }
                segmentOf[contactID] = s ?? ""
                return s
            }
            var mqls: [String: Double] = [:]
            var mqlTotal = 0.0
            for r in try Row.fetchAll(
                db,
                sql: "SELECT DISTINCT contact_id FROM lifecycle_transitions WHERE to_stage = 'mql' AND at >= ? AND at < ?",
                arguments: [a, b]
            ) {
                mqlTotal += 1
                if let s = try segment(r[0]) { mqls[s, default: 0] += 1 }
            }
            var pipeline: [String: Double] = [:]
            var pipelineTotal = 0.0
            for r in try Row.fetchAll(
                db,
                sql: "SELECT primary_contact_id, coalesce(amount, 0) FROM opportunities WHERE created_at >= ? AND created_at < ?",
                arguments: [a, b]
            ) {
                let amount: Double = r[1]
                pipelineTotal += amount
                if let s = try segment(r[0]) { pipeline[s, default: 0] += amount }
            }
            return targets.map { t in
                let metric: String = t[0]
                let seg: String? = (t[1] as String?).flatMap { $0.isEmpty ? nil : $0 }
                let actual = metric == "mqls" ? (seg.map { mqls[$0] ?? 0 } ?? mqlTotal) : (seg.map { pipeline[$0] ?? 0 } ?? pipelineTotal)
                return Commitment(metric: metric, segment: seg, target: t[2], actual: actual, elapsed: elapsed)
            }
        }
    }
}
