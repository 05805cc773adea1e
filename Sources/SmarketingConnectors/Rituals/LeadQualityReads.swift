import Foundation
import SmarketingCore
import SmarketingStore

/// Sales' lead ratings where they are read: the lead quality report and the scoring backtest.
public enum LeadQualityReads {
    /// The report of the handovers answered in `period` (days in the workspace's zone), grouped by `by`.
    public static func report(_ store: any FunnelStore, period: KPIPeriod, by: LeadQualityCut) async throws -> LeadQualityReport {
        let zone = try await store.workspaceSettings().settings.timeZone
        let calendar = KPICalendar(timeZone: zone)
        let rows = try await store.leadFeedback(
            from: calendar.start(ofDay: period.from.daysSinceEpoch),
            to: calendar.start(ofDay: period.to.daysSinceEpoch),
            content: by == .content
        )
        var names: [String: String] = [:]
        let resource: Resource? = by == .campaign ? .campaigns : by == .content ? .content : by == .persona ? .personas : nil
        if let resource {
            let field = resource == .content ? "title" : "name"
            let keys = Set(rows.flatMap { r -> [String] in
                switch by {
                case .campaign: return r.campaign.map { [$0] } ?? []
                case .persona: return r.persona.map { [$0] } ?? []
                default: return r.content
                }
            })
            for key in keys.prefix(2_000) {
                if case .text(let name)? = try await store.get(resource, id: key)?[field] { names[key] = name }
            }
        }
        return LeadQualityReport.build(rows, by: by, period: ReportPeriod(period, calendar: calendar), zone: zone, names: names)
    }

    /// The rated leads replayed under the candidate and the active model (nil when no lead is rated).
    public static func backtest(
        _ store: any RitualStore,
        contacts: [BacktestContact],
        candidate: Scorer,
        active: Scorer?
    ) async throws -> (candidate: RatingBacktest, current: RatingBacktest?)? {
        let rated = try await store.ratedLeads()
        guard !rated.isEmpty else { return nil }
        let byID = Dictionary(contacts.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let leads = rated.compactMap { r in byID[r.contactID].map { RatingBacktest.Rated(contact: $0, handedOverAt: r.handedOverAt, good: r.good) } }
        return (RatingBacktest.run(leads, scorer: candidate), active.map { RatingBacktest.run(leads, scorer: $0) })
    }
}
