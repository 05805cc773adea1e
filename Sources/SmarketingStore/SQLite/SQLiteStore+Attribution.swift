import Foundation
import GRDB
import SmarketingCore

/// What the attribution models read from the store.
public struct AttributionInputs: Sendable {
    /// Deals won in the period with their paths.
    public var deals: [DealPath]
    /// Journeys for the data-driven models, aggregated by path (empty unless asked for).
    public var journeys: JourneyAggregate
    /// Marketing spend of the period per campaign and per channel.
    public var spend: [AttributionCut: [String: Double]]
    public var marketingSpend: Double
}

extension SQLiteStore {
    /// The attribution report of `models` for the deals won in `period`.
    public func attribution(
        period: KPIPeriod,
        by: AttributionCut,
        models: [AttributionModel],
        lookbackDays: Int,
        halfLifeDays: Double
    ) async throws
        -> AttributionReport
    {
        let reports = try await attribution(period: period, by: [by], models: models, lookbackDays: lookbackDays, halfLifeDays: halfLifeDays)
        guard let report = reports[by] else { throw StoreError.invalid("no attribution report for \(by)") }
        return report
    }


    /// Won deals of the period with the marketing touches of their contacts at or before the
    /// close and within `lookbackDays` before it; with `journeys`, every contact's journey whose
    /// conversion (reaching an opportunity) — or, for contacts that never converted, whose last
    /// marketing touch — falls in the period or the look-back window before it (the same span
    /// the won deals' touches come from).
    public func attributionInputs(period: KPIPeriod, lookbackDays: Int, journeys: [AttributionCut]) async throws -> AttributionInputs {
        try await pool.read { db in
            let settings = try Self.kpiSettings(db)
            let from = settings.calendar.start(ofDay: period.fromDay).milliseconds
            let to = settings.calendar.start(ofDay: period.toDay).milliseconds
            var campaignChannel: [String: String] = [:]
            for r in try Row.fetchAll(db, sql: "SELECT id, channel FROM campaigns") { campaignChannel[r[0]] = r[1] }
            func touch(_ r: Row, contact: String) -> PathTouch {
                let campaign: String? = r[3]
                return PathTouch(
                    id: r[0],
                    at: Timestamp(milliseconds: r[1]),
                    contact: contact,
                    channel: PathTouch.channel(own: r[2], campaign: campaign, campaignChannels: campaignChannel),
                    campaign: campaign,
                    content: r[4]
                )
            }
            // Won deals and their contacts (roles ∪ primary).
            var deals: [DealPath] = []
            let wonRows = try Row.fetchAll(
                db,
                sql:
                    "SELECT id, amount, created_at, closed_at, primary_contact_id FROM opportunities WHERE is_won = 1 AND closed_at >= ? AND closed_at < ? ORDER BY id",
                arguments: [from, to]
            )
            let members = try db.cachedStatement(sql: "SELECT contact_id FROM opportunity_contacts WHERE opportunity_id = ? ORDER BY contact_id")
            let lead = try db.cachedStatement(sql: "SELECT coalesce(became_lead_at, created_at) FROM contacts WHERE id = ?")
            let touches = try db.cachedStatement(
                sql: """
                    SELECT id, occurred_at, channel, campaign_id, content_id FROM touchpoints
                    WHERE contact_id = ? AND occurred_at >= ? AND occurred_at <= ? AND actor_id IS NULL ORDER BY occurred_at, id
                    """
            )
            let lookback = Int64(lookbackDays) * 86_400_000
            for r in wonRows {
                let id: String = r[0]
                let closed: Int64 = r[3]
                var contacts = try String.fetchAll(members, arguments: [id])
                if let p: String = r[4], !contacts.contains(p) { contacts.append(p) }
                var path: [PathTouch] = []
                var leads: [String: Timestamp] = [:]
                for c in contacts {
                    guard let l = try Int64.fetchOne(lead, arguments: [c]) else { continue }
                    leads[c] = Timestamp(milliseconds: l)
                    for t in try Row.fetchAll(touches, arguments: [c, closed - lookback, closed]) { path.append(touch(t, contact: c)) }
                }
                deals.append(
                    DealPath(
                        dealID: id,
                        amountCents: Money.cents(r[1]),
                        createdAt: Timestamp(milliseconds: r[2]),
                        closedAt: Timestamp(milliseconds: closed),
                        touches: path,
                        leadTimes: leads
                    )
                )
            }
            // Journeys: one pass over the marketing touches in the contact index's order (ties in
            // time put in id order by the core: a sort of the whole stream by id costs more than
            // the walk), stepped through the C API.
            var list = JourneyAggregate(cuts: journeys)
            if !journeys.isEmpty {
                let converted = try Self.reached(.opportunity, db)
                var current: String?
                var path: [PathTouch] = []
                func flush() {
                    guard let c = current, let last = path.last else { return }
                    let conv = converted[c]
                    let end = conv ?? last.at.milliseconds
                    if end >= from - lookback && end < to {
                        PathTouch.orderTies(&path)
                        list.add(ContactJourney(touches: path, convertedAt: conv.map(Timestamp.init(milliseconds:))))
                    }
                }
                try RawStatement(
                    db,
                    """
                    SELECT id, occurred_at, channel, campaign_id, content_id, contact_id FROM touchpoints
                    WHERE actor_id IS NULL ORDER BY contact_id, occurred_at
                    """
                ).forEachRow { r in
                    let c = r.text(5) ?? ""
                    if c != current {
                        flush()
                        current = c
                        path.removeAll(keepingCapacity: true)
                    }
                    let campaign = r.text(3)
                    path.append(
                        PathTouch(
                            id: r.text(0) ?? "",
                            at: Timestamp(milliseconds: r.int64(1) ?? 0),
                            contact: c,
                            channel: PathTouch.channel(own: r.text(2), campaign: campaign, campaignChannels: campaignChannel),
                            campaign: campaign,
                            content: r.text(4)
                        )
                    )
                }
                flush()
            }
            var spend: [AttributionCut: [String: Double]] = [:]
            var total = 0.0
            let cells = try db.cachedStatement(
                sql: "SELECT key, sum(total) FROM kpi_cells WHERE metric = 'spend_marketing' AND dim = ? AND day >= ? AND day < ? GROUP BY key"
            )
            for (cut, dim) in [(AttributionCut.campaign, "campaign"), (.channel, "channel")] {
                for r in try Row.fetchAll(cells, arguments: [dim, period.fromDay, period.toDay]) { spend[cut, default: [:]][r[0]] = Money.amount(r[1]) }
            }
            for r in try Row.fetchAll(cells, arguments: ["all", period.fromDay, period.toDay]) { total += Money.amount(r[1]) }
            return AttributionInputs(deals: deals, journeys: list, spend: spend, marketingSpend: total)
        }
    }
}
