import Foundation
import SmarketingCore

/// The inbox, SLA, acceptance and commitment aggregations over loaded rows: the same for both
/// backends, which only load the rows.
enum HandoverReports {
    struct ReportHandover {
        var id: Int64
        var keys: [ReportGrouping: String]
        var status: HandoverStatus
        var reason: String?
        var owner: String
        var assignedAt: Timestamp?
        var respondedAt: Timestamp?
        var clocks: [(kind: ClockKind, owner: String?, status: ClockStatus)]

        /// From the row of `reportSQL` (columns 0…11) and the handover's clocks.
        init(
            id: Int64,
            owner: String,
            team: String?,
            segment: String?,
            campaign: String?,
            channel: String?,
            policy: String?,
            status: String,
            reason: String?,
            assignedAt: Int64?,
            answeredAt: Int64?,
            firstTouchAt: Int64?,
            clocks: [(kind: ClockKind, owner: String?, status: ClockStatus)]
        ) {
            self.id = id
            keys = [
                .rep: owner, .team: team ?? "(none)", .segment: segment ?? "(none)", .campaign: campaign ?? "(none)", .channel: channel ?? "(none)",
                .policy: policy ?? "(none)",
            ]
            self.status = HandoverStatus(rawValue: status) ?? .closed
            self.reason = reason
            self.owner = owner
            self.assignedAt = assignedAt.map(Timestamp.init(milliseconds:))
            respondedAt = SLAMetrics.respondedAt(
                answeredAt: answeredAt.map(Timestamp.init(milliseconds:)),
                firstTouchAt: firstTouchAt.map(Timestamp.init(milliseconds:))
            )
            self.clocks = clocks
        }
    }

    /// The handovers created in `[?, ?)`.
    static let reportSQL = """
        SELECT id, owner_id, team, segment, campaign_id, channel, policy, status, reason, assigned_at, answered_at, first_touch_at
        FROM handovers WHERE created_at >= ? AND created_at < ? ORDER BY id
        """
    /// Their clocks: handover id, kind, owner, status.
    static let reportClocksSQL = """
        SELECT k.handover_id, k.kind, k.owner_id, k.status FROM sla_clocks k JOIN handovers h ON h.id = k.handover_id
        WHERE h.created_at >= ? AND h.created_at < ? ORDER BY k.id
        """

    /// SLA compliance, grouped (see `HandoverStore.slaReport`).
    static func sla(_ handovers: [ReportHandover], by: ReportGrouping, config: HandoverConfig?) -> [SLAReportRow] {
        var groups: [String: (ids: Set<Int64>, tally: [String: ClockTally], wall: [Double], business: [Double])] = [:]
        for h in handovers {
            for c in h.clocks {
                let key = by == .rep ? (c.owner ?? h.owner) : h.keys[by] ?? "(none)"
                var g = groups[key] ?? ([], [:], [], [])
                g.ids.insert(h.id)
                g.tally[c.kind.rawValue, default: ClockTally()].count(c.status)
                groups[key] = g
            }
            let key = h.keys[by] ?? "(none)"
            var g = groups[key] ?? ([], [:], [], [])
            g.ids.insert(h.id)
            if let a = h.assignedAt, let r = h.respondedAt, r >= a {
                g.wall.append(Double(r.milliseconds - a.milliseconds) / 3_600_000)
                let cal = config?.calendar(forOwner: h.owner) ?? .always()
                g.business.append(Double(cal.businessTime(from: a, to: r)) / 3_600_000)
            }
            groups[key] = g
        }
        return groups.keys.sorted().compactMap { key in
            guard let g = groups[key] else { return nil }
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

    /// Acceptance and rejection reasons, grouped (see `HandoverStore.acceptanceReport`).
    static func acceptance(_ handovers: [ReportHandover], by: ReportGrouping) -> [AcceptanceRow] {
        var rows: [String: AcceptanceRow] = [:]
        for h in handovers {
            let key = h.keys[by] ?? "(none)"
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
        return rows.keys.sorted().compactMap { k in
            guard var r = rows[k] else { return nil }
            r.acceptanceRate = SLAMetrics.acceptanceRate(accepted: r.accepted, rejected: r.rejected)
            return r
        }
    }

    /// The targets of a month: metric, segment (nil: everything), value.
    static let targetsSQL = "SELECT metric, segment, value FROM targets WHERE period = ? AND metric IN ('mqls', 'pipeline') ORDER BY metric, segment"
    /// Contacts that became MQL in `[?, ?)`.
    static let monthMQLsSQL = "SELECT DISTINCT contact_id FROM lifecycle_transitions WHERE to_stage = 'mql' AND at >= ? AND at < ? ORDER BY contact_id"
    /// Pipeline created in `[?, ?)`: primary contact, amount.
    static let monthPipelineSQL = "SELECT primary_contact_id, coalesce(amount, 0) FROM opportunities WHERE created_at >= ? AND created_at < ? ORDER BY id"

    /// Marketing's commitments from the month's targets, MQL contacts and pipeline rows; `segment`
    /// says a contact's segment (nil: none or no configuration).
    static func commitments(
        targets: [(metric: String, segment: String?, value: Double)],
        mqlContacts: [String],
        pipeline: [(contactID: String?, amount: Double)],
        elapsed: Double,
        segment: (String?) async throws -> String?
    ) async throws -> [Commitment] {
        var mqls: [String: Double] = [:]
        var mqlTotal = 0.0
        for id in mqlContacts {
            mqlTotal += 1
            if let s = try await segment(id) { mqls[s, default: 0] += 1 }
        }
        var byPipeline: [String: Double] = [:]
        var pipelineTotal = 0.0
        for (contact, amount) in pipeline {
            pipelineTotal += amount
            if let s = try await segment(contact) { byPipeline[s, default: 0] += amount }
        }
        return targets.map { t in
            let seg = t.segment.flatMap { $0.isEmpty ? nil : $0 }
            let actual = t.metric == "mqls" ? (seg.map { mqls[$0] ?? 0 } ?? mqlTotal) : (seg.map { byPipeline[$0] ?? 0 } ?? pipelineTotal)
            return Commitment(metric: t.metric, segment: seg, target: t.value, actual: actual, elapsed: elapsed)
        }
    }

    // MARK: Inbox

    /// The contact columns an inbox item shows, for `WHERE c.id = ?`.
    static let inboxContactSQL = """
        SELECT c.first_name, c.last_name, c.email, c.title, a.name, c.lifecycle_stage, s.grade, s.engagement, c.persona_id, s.fit, p.name
        FROM contacts c LEFT JOIN accounts a ON a.id = c.account_id LEFT JOIN contact_scores s ON s.contact_id = c.id
        LEFT JOIN personas p ON p.id = c.persona_id
        WHERE c.id = ?
        """
    static let inboxTouchesSQL = "SELECT type, occurred_at, channel, campaign_id, content_id FROM touchpoints WHERE contact_id = ? ORDER BY occurred_at DESC, id DESC LIMIT 5"

    /// Recommended content: `(sql, arguments)` for a persona (nil: any) and a funnel stage.
    static func recommendedSQL(persona: String?, stage: String) -> (String, [String]) {
        var sql = "SELECT id, title, type, funnel_stage, url FROM content WHERE funnel_stage = ?"
        var args = [stage]
        if let persona {
            sql += " AND (';' || persona_ids || ';') LIKE ?"
            args.append("%;" + persona + ";%")
        }
        return (sql + " ORDER BY id LIMIT 3", args)
    }

    /// An inbox item from a handover, its contact's columns (`inboxContactSQL`), its last touches
    /// and the recommended content.
    static func item(
        _ h: HandoverView,
        first: String?,
        last: String?,
        email: String,
        title: String?,
        accountName: String?,
        stage: String?,
        grade: String?,
        engagement: Double?,
        persona: String?,
        personaName: String?,
        fit: Double?,
        touches: [InboxTouch],
        content: [RecommendedContent]
    ) -> InboxItem {
        let name = [first, last].compactMap { $0 }.joined(separator: " ")
        let contact = InboxContact(
            id: h.contactID,
            name: name.isEmpty ? email : name,
            email: email,
            title: title,
            accountName: accountName,
            stage: stage,
            grade: grade,
            engagement: engagement,
            personaID: persona
        )
        // The persona by the name people gave it (its id when it has none).
        let why = InboxRules.why(grade: grade, fit: fit, engagement: engagement, persona: personaName ?? persona, lastTouch: touches.first.map { ($0.type, $0.at) })
        return InboxItem(
            handover: h,
            contact: contact,
            nextDueAt: h.clocks.filter { $0.status == .running }.map(\.dueAt).min(),
            why: why,
            topContributions: [],
            lastTouches: touches,
            recommendedContent: content
        )
    }

    /// Most urgent first.
    static func sorted(_ items: [InboxItem]) -> [InboxItem] {
        items.sorted { InboxRules.moreUrgent(($0.nextDueAt, $0.handover.id), than: ($1.nextDueAt, $1.handover.id)) }
    }

    /// Adds the score's top contributions and the MQL rule's verdict to a shown item.
    static func explain(_ item: inout InboxItem, _ e: ScoreExplanation) {
        var parts = e.fit.filter { $0.matched && $0.points != 0 }.map { ScoreContribution(rule: $0.ruleID, kind: "fit", points: $0.points) }
        parts += e.engagementParts.filter { $0.contributionNow.magnitude >= 0.5 }.map {
            ScoreContribution(rule: $0.rule, kind: "engagement", points: ($0.contributionNow * 10).rounded() / 10)
        }
        item.topContributions = Array(parts.sorted { $0.points.magnitude > $1.points.magnitude }.prefix(5))
        if let top = item.topContributions.first {
            item.why.insert(InboxRules.topContribution(rule: top.rule, points: top.points), at: InboxRules.topContributionIndex(in: item.why))
        }
        if e.qualifies { item.why.append(InboxRules.mqlRuleHolds) }
    }
}
