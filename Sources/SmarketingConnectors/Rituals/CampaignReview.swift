import Foundation
import SmarketingCore
import SmarketingStore

/// A campaign's joint review: its figures for a period (from the KPI set and the attribution
/// report), sales' ratings of its leads, and the notes both teams wrote with the standing decision
/// (JSON schema `smarketing-campaign-review/1`).
public struct CampaignReview: Sendable, Equatable, Codable, ExplicitNullEncodable {
    public struct Figures: Sendable, Equatable, Codable, ExplicitNullEncodable {
        public var spend: Double
        public var leads: Int64
        public var mqls: Int64
        public var costPerMql: Double?
        public var mqlAcceptance: Double?
        /// MQLs of the period that reached an opportunity (share).
        public var mqlToOpportunity: Double?
        public var opportunities: Int64
        public var openPipeline: Double
        public var wonRevenue: Double
        public var model: String
        public var attributedRevenue: Double?
        public var romi: Double?
    }

    public var schema = "smarketing-campaign-review/1"
    public var campaignID: String
    public var name: String?
    public var period: ReportPeriod
    public var figures: Figures
    public var leadQuality: LeadQualityReport.Group?
    public var notes: [CampaignNote]
    /// The latest note that recorded a decision.
    public var decision: CampaignNote?

    public static func read(_ store: any FunnelStore, campaignID: String, period: KPIPeriod, model: AttributionModel) async throws -> CampaignReview {
        guard let campaign = try await store.get(.campaigns, id: campaignID) else { throw StoreError.notFound(.campaigns, campaignID) }
        let settings = try await store.workspaceSettings().settings
        let calendar = KPICalendar(timeZone: settings.timeZone)
        let kpis = try await store.kpis(KPIQuery(period: period, by: [.campaign]))
        let v = kpis.by["campaign"]?.first { $0.key == campaignID }?.current
        let attribution = try await store.attribution(
            period: period, by: .campaign, models: [model], lookbackDays: settings.lookbackDays, halfLifeDays: settings.halfLifeDays
        )
        let row = attribution.models.first?.rows.first { $0.label == campaignID }
        let quality = try await LeadQualityReads.report(store, period: period, by: .campaign).groups.first { $0.key == campaignID }
        let notes = try await store.campaignNotes(campaignID: campaignID)
        return CampaignReview(
            campaignID: campaignID,
            name: campaign["name"].text,
            period: ReportPeriod(period, calendar: calendar),
            figures: Figures(
                spend: v?.cac.marketingSpend ?? 0,
                leads: v?.leadToOpportunity.leadCohort.population ?? 0,
                mqls: v?.mqlVolume.mqls ?? 0,
                costPerMql: v?.mqlVolume.costPerMql,
                mqlAcceptance: v?.mqlAcceptance.rate,
                mqlToOpportunity: v?.leadToOpportunity.mqlCohort.rate,
                opportunities: v?.leadToOpportunity.mqlCohort.converted ?? 0,
                openPipeline: v?.pipelineCoverage.openPipeline ?? 0,
                wonRevenue: v?.dealVelocity.wonRevenue ?? 0,
                model: model.rawValue,
                attributedRevenue: row?.revenue,
                romi: row?.romi
            ),
            leadQuality: quality,
            notes: notes,
            decision: CampaignNote.standing(notes)
        )
    }
}
