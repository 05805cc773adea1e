import SmarketingCore

/// What a KPI read asks for: a period of local days and the cuts to group by (each cut is
/// reported on its own, side by side with the total).
public struct KPIQuery: Sendable, Hashable {
    public var period: KPIPeriod
    public var by: [KPIDimension]
    /// The instant the snapshot figures (stale leads) are read at; nil leaves them out.
    public var asOf: Timestamp?
    /// Attribution models whose ROMI to add (empty: none; it runs the attribution of the
    /// period's won deals, so it costs what `attribution` costs).
    public var romiModels: [AttributionModel]

    public init(period: KPIPeriod, by: [KPIDimension] = [], asOf: Timestamp? = nil, romiModels: [AttributionModel] = []) {
        self.period = period
        self.by = by.filter { $0 != .all }
        self.asOf = asOf
        self.romiModels = romiModels
    }
}

/// The KPI set of a period beside the previous period of the same length (JSON schema
/// `smarketing-kpis/1`, documented in docs/KPIS.md).
public struct KPIReport: Sendable, Equatable, Codable, ExplicitNullEncodable {
    public typealias Period = ReportPeriod
    /// One cut value: its KPIs now and in the previous period.
    public struct Group: Sendable, Equatable, Codable {
        public var key: String
        public var current: KPIValues
        public var previous: KPIValues
    }

    public var schema = "smarketing-kpis/1"
    public var period: Period
    public var previousPeriod: Period
    public var total: Group
    /// Per requested cut (`channel`, `campaign`, …) its values, sorted by key.
    public var by: [String: [Group]]
    /// ROMI per attribution model for the period (only when asked: `romi=`), in total and, when
    /// `by` has `channel` or `campaign`, per value of those; nil when not asked.
    public var romi: [ModelROMI]? = nil
    /// The custom KPIs of the active `kpis.yaml` (nil when none is defined).
    public var custom: [CustomKPIValue]? = nil

    /// One model's ROMI: (revenue attributed to marketing for the deals won in the period −
    /// marketing spend) ÷ marketing spend.
    public struct ModelROMI: Sendable, Equatable, Codable, ExplicitNullEncodable {
        public var model: String
        public var revenueAttributed: Double
        public var marketingSpend: Double
        public var romi: Double?
        public var byChannel: [AttributionReport.Row]?
        public var byCampaign: [AttributionReport.Row]?
    }
}

/// One difference between the stored aggregates and a recomputation from the raw tables.
public struct KPIMismatch: Sendable, Equatable, Codable {
    public var metric: String
    public var dimension: String
    public var key: String
    public var day: Int64
    public var label: String
    public var value: Int64
    public var stored: KPITallyJSON
    public var recomputed: KPITallyJSON
}

/// A tally in JSON.
public struct KPITallyJSON: Sendable, Equatable, Codable {
    public var count: Int64
    public var total: Int64
}

/// The result of `kpi verify`.
public struct KPIVerification: Sendable, Equatable, Codable {
    public var cells: Int
    public var recomputedCells: Int
    public var mismatches: [KPIMismatch]
    public var seconds: Double
    public var agrees: Bool { mismatches.isEmpty }
}

/// One record behind a KPI figure: which record, on which day it counted, and what it added.
public struct KPIRecord: Sendable, Equatable, Codable, ExplicitNullEncodable {
    public var resource: String
    public var id: String
    public var day: String
    public var label: String?
    /// The sample value (response ms, velocity ms) or the amount added (cents, ms), if any.
    public var value: Int64?
    public var total: Int64?
}

/// The records behind one KPI cell over a period.
public struct KPIRecordPage: Sendable, Equatable, Codable {
    public var metric: String
    public var dimension: String
    public var key: String
    public var from: String
    public var to: String
    public var count: Int
    public var data: [KPIRecord]
}

/// The KPI aggregates and the reports read from the history: funnel, attribution, killers.
public protocol KPIStore: Sendable {
    /// The KPI set of a period from the incremental aggregates.
    func kpis(_ query: KPIQuery) async throws -> KPIReport
    /// A number that grows with every committed change of the KPI aggregates.
    func kpiVersion() async throws -> Int64
    /// Recomputes the aggregates from the raw history (rolled back) and compares.
    func verifyKPIs() async throws -> KPIVerification
    /// Recomputes the aggregates from the raw history.
    func rebuildKPIs() async throws
    /// The attribution report of `models` for the deals won in `period`.
    func attribution(
        period: KPIPeriod,
        by: AttributionCut,
        models: [AttributionModel],
        lookbackDays: Int,
        halfLifeDays: Double
    ) async throws
        -> AttributionReport
    /// Won deals with their paths, the journeys aggregated under `journeys` (none when empty) and
    /// spend for the attribution models.
    func attributionInputs(period: KPIPeriod, lookbackDays: Int, journeys: [AttributionCut]) async throws -> AttributionInputs
    /// The funnel of the period's leads and where they get lost (stuck and stale as of `now`).
    func funnel(period: KPIPeriod, by: KPIDimension, options: FunnelOptions, now: Timestamp) async throws -> FunnelReport
    /// Touch types, content and campaigns whose presence on the paths of the contacts that
    /// reached `from` in the period goes with lower conversion to the next stage.
    func conversionKillers(period: KPIPeriod, from: FunnelStage, options: KillerOptions, now: Timestamp) async throws -> KillerReport
    /// The records counted in one metric's cells of a period under one cut value.
    /// Streams the stored KPI facts of every record of `kind` (what the aggregates are built
    /// from), one row per record in id order; returns the number of rows.
    @discardableResult
    func kpiFacts(_ kind: KPIFactsKind, row: @Sendable ([String]) throws -> Void) async throws -> Int
    func kpiRecords(metric: KPIMetric, period: KPIPeriod, dimension: KPIDimension, key: String, label: String?, limit: Int) async throws -> KPIRecordPage
}
