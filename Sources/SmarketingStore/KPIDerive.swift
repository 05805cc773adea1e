import Foundation
import SmarketingCore

/// KPI facts from loaded rows, the same for both backends: a backend selects the columns (the
/// queries here are plain SQL both run), this turns them into the core's facts, whose
/// contributions (`KPIContribution`) the aggregates add up.
enum KPIDerive {
    /// The core's sales activity types as an SQL list.
    static let salesTouchTypes = "(" + HandoverRules.salesTouchTypes.sorted().map { "'\($0)'" }.joined(separator: ", ") + ")"

    /// A sales action (`t`: a touchpoint): a user's call, email, meeting or answer.
    static let salesTouch = "t.actor_id IS NOT NULL AND t.type IN \(salesTouchTypes)"
    /// Contacts (`c`) whose first sales action after assignment is their response time.
    static let respondsAfterAssignment = "c.assigned_at IS NOT NULL AND c.became_mql_at IS NOT NULL"
    /// Contacts (`c`) whose last sales action dates their sales idle time.
    static let idleCounts = "c.lifecycle_stage IN ('mql', 'sal', 'sql')"

    /// The columns a contact's facts derive from, for contacts `WHERE c.id IN (scope)`:
    /// 0 id, 1 created_at, 2 stage, 3 became_lead_at, 4 became_mql_at, 5 became_sal_at,
    /// 6 became_opportunity_at, 7 assigned_at, 8 source_channel, 9 source_campaign_id,
    /// 10 persona_id, 11 owner_id, 12 first sales action after assignment, 13 became_sql_at,
    /// 14 became_customer_at, 15 exit time, 16 exit reason, 17 last sales action.
    /// With `salesActions: false` columns 12 and 17 are NULL (read for many contacts at once
    /// with `salesActionsSQL` instead).
    static func contactSQL(scope: String, salesActions: Bool = true) -> String {
        let first = salesActions ? """
            CASE WHEN \(respondsAfterAssignment) THEN
                 (SELECT t.occurred_at FROM touchpoints t WHERE t.contact_id = c.id AND t.occurred_at >= c.assigned_at
                    AND \(salesTouch) ORDER BY t.occurred_at LIMIT 1) END
            """ : "NULL"
        let last = salesActions ? """
            CASE WHEN \(idleCounts) THEN
                 (SELECT t.occurred_at FROM touchpoints t WHERE t.contact_id = c.id
                    AND \(salesTouch) ORDER BY t.occurred_at DESC LIMIT 1) END
            """ : "NULL"
        return """
        SELECT c.id, c.created_at, c.lifecycle_stage, c.became_lead_at, c.became_mql_at, c.became_sal_at,
               c.became_opportunity_at, c.assigned_at, c.source_channel, c.source_campaign_id, c.persona_id, c.owner_id,
               -- first / last sales action: ORDER BY … LIMIT 1 walks the (contact, time) index and
               -- stops at the first match (min()/max() with extra conditions read every touch)
               \(first),
               c.became_sql_at, c.became_customer_at,
               CASE WHEN c.lifecycle_stage IN ('recycled', 'disqualified') THEN coalesce(
                 (SELECT l.at FROM lifecycle_transitions l WHERE l.contact_id = c.id AND l.to_stage = c.lifecycle_stage
                  ORDER BY l.at DESC, l.seq DESC LIMIT 1), c.recycled_at) END,
               CASE WHEN c.lifecycle_stage IN ('recycled', 'disqualified') THEN coalesce(
                 (SELECT coalesce(
                     (SELECT h.reason FROM handovers h WHERE h.contact_id = c.id AND h.status = 'rejected' AND h.closed_at >= l.at
                      ORDER BY h.id DESC LIMIT 1), c.recycle_reason, l.reason, '')
                  FROM lifecycle_transitions l WHERE l.contact_id = c.id AND l.to_stage = c.lifecycle_stage
                  ORDER BY l.at DESC, l.seq DESC LIMIT 1),
                 CASE WHEN c.recycled_at IS NOT NULL THEN coalesce(c.recycle_reason, '') END) END,
               \(last)
        FROM contacts c WHERE c.id IN (\(scope))
        """
    }

    /// Columns 12 and 17 of `contactSQL` (first sales action after assignment, last sales action)
    /// for many contacts in one pass over the sales touches: (contact id, first, last). A rebuild
    /// reads them so on partitioned touchpoints, where the per-contact look of `contactSQL` probes
    /// every month's index.
    static func salesActionsSQL(scope: String) -> String {
        """
        SELECT t.contact_id,
               min(t.occurred_at) FILTER (WHERE \(respondsAfterAssignment) AND t.occurred_at >= c.assigned_at),
               max(t.occurred_at) FILTER (WHERE \(idleCounts))
        FROM touchpoints t JOIN contacts c ON c.id = t.contact_id
        WHERE \(salesTouch) AND t.contact_id IN (\(scope))
        GROUP BY t.contact_id
        """
    }

    /// The first deal of each contact in `scope`: (contact id, created_at) rows, earliest kept
    /// with `ScoringRows.earliest`.
    static func firstDealSQL(scope: String) -> [String] {
        [
            "SELECT oc.contact_id, min(o.created_at) FROM opportunity_contacts oc JOIN opportunities o ON o.id = oc.opportunity_id WHERE oc.contact_id IN (\(scope)) GROUP BY 1",
            "SELECT primary_contact_id, min(created_at) FROM opportunities WHERE primary_contact_id IN (\(scope)) GROUP BY 1",
        ]
    }

    /// A contact's columns as `contactSQL` selects them (times in epoch milliseconds).
    struct ContactColumns {
        var createdAt: Int64
        var stage: String?
        var becameLeadAt, mqlAt, salAt, opportunityAt, assignedAt: Int64?
        var channel, campaign, persona, owner: String?
        var respondedAt, sqlAt, customerAt, exitAt: Int64?
        var exitReason: String?
        var lastSalesAt: Int64?
    }

    static func contact(_ r: ContactColumns, firstDeal: Int64?, segment: String?, config: HandoverConfig?) -> ContactKPIFacts {
        func ts(_ v: Int64?) -> Timestamp? { v.map(Timestamp.init(milliseconds:)) }
        let assigned = ts(r.assignedAt)
        let responded = ts(r.respondedAt)
        var business: Int64?
        if let assigned, let responded, let calendar = config?.calendar(forOwner: r.owner) {
            business = calendar.businessTime(from: assigned, to: responded)
        }
        return ContactKPIFacts(
            createdAt: Timestamp(milliseconds: r.createdAt),
            stage: r.stage,
            becameLeadAt: ts(r.becameLeadAt),
            mqlAt: ts(r.mqlAt),
            salAt: ts(r.salAt),
            opportunityAt: ReachedRule.at(own: ts(r.opportunityAt), firstDeal: ts(firstDeal)),
            assignedAt: assigned,
            respondedAt: responded,
            responseBusinessMs: business,
            cuts: KPICuts([.channel: r.channel, .campaign: r.campaign, .persona: r.persona, .segment: segment, .owner: r.owner, .team: team(r.owner, config)]),
            sqlAt: ts(r.sqlAt),
            customerAt: ts(r.customerAt),
            exitAt: ts(r.exitAt),
            exitReason: r.exitAt == nil || r.exitReason?.isEmpty != false ? nil : r.exitReason,
            lastSalesAt: ts(r.lastSalesAt)
        )
    }

    static func team(_ owner: String?, _ config: HandoverConfig?) -> String? { owner.flatMap { config?.team(of: $0)?.id } }

    // MARK: Deals

    /// The columns a deal's facts derive from, for deals `WHERE id IN (scope)`.
    static func dealSQL(scope: String) -> String {
        """
        SELECT id, account_id, created_at, closed_at, is_won, amount, expected_close_date, stage, lost_reason, owner_id, primary_contact_id
        FROM opportunities WHERE id IN (\(scope)) ORDER BY id
        """
    }

    struct DealColumns {
        var account: String
        var created: Timestamp
        var closed: Timestamp?
        var isWon: Bool?
        var amount: Double?
        var expected: String?
        var stage: String?
        var lostReason: String?
        var owner: String?
        var primary: String?
        var contacts: [String] = []
    }

    /// What a deal's cuts read of a contact.
    struct Person {
        var created: Int64
        var channel, campaign, persona: String?
    }

    /// A deal's contacts, each once: the primary first, then its contact roles (known contacts only).
    static func members(_ d: DealColumns, people: [String: Person]) -> [String] {
        var seen = Set<String>()
        var list: [String] = []
        for c in (d.primary.map { [$0] } ?? []) + d.contacts where people[c] != nil && seen.insert(c).inserted { list.append(c) }
        return list
    }

    static func deal(
        _ d: DealColumns,
        members list: [String],
        people: [String: Person],
        segment: [String: String],
        firstMarketingTouch: Int64?,
        config: HandoverConfig?
    ) -> DealKPIFacts {
        // The cut contact: the primary, else the earliest created.
        let cutContact: String? =
            d.primary.flatMap { people[$0] != nil ? $0 : nil }
            ?? list.min { a, b in (people[a]?.created ?? 0, a) < (people[b]?.created ?? 0, b) }
        let p = cutContact.flatMap { people[$0] }
        return DealKPIFacts(
            createdAt: d.created,
            closedAt: d.closed,
            isWon: d.isWon,
            amountCents: Money.cents(d.amount),
            expectedCloseDay: d.expected.flatMap(LocalDate.parse).map(\.daysSinceEpoch),
            probabilityPercent: StageProbability.percent(d.stage),
            lostReason: d.lostReason,
            firstMarketingTouchAt: firstMarketingTouch.map(Timestamp.init(milliseconds:)),
            cuts: KPICuts([
                .channel: p?.channel, .campaign: p?.campaign, .persona: p?.persona, .segment: cutContact.flatMap { segment[$0] },
                .owner: d.owner, .team: team(d.owner, config),
            ])
        )
    }

    /// The won-close time a deal's contact links carry (nil unless won and closed).
    static func wonClose(_ d: DealColumns) -> Int64? { d.isWon == true ? d.closed?.milliseconds : nil }
}
