import Foundation

/// The cuts every KPI can be read by. `all` is the uncut total.
public enum KPIDimension: String, Sendable, CaseIterable, Hashable, Codable {
    case all, channel, campaign, persona, segment, owner, team

    /// Hashes the case, not its raw text (a String-backed enum otherwise hashes the string: a
    /// third of the cost of a KPI cell key in the aggregates' dictionaries).
    public func hash(into hasher: inout Hasher) { EnumCase.hash(self, into: &hasher) }

    /// The label of a record without a value for a cut.
    public static let none = "(none)"
}

/// The values of a record for each cut (missing cuts count as `(none)`).
public struct KPICuts: Sendable, Hashable {
    public var values: [KPIDimension: String]

    public init(_ values: [KPIDimension: String?] = [:]) {
        var v: [KPIDimension: String] = [:]
        for (d, x) in values where d != .all { v[d] = (x?.isEmpty ?? true) ? KPIDimension.none : x! }
        self.values = v
    }

    /// The value under `dimension` (`all` → "all").
    public subscript(_ dimension: KPIDimension) -> String {
        dimension == .all ? "all" : values[dimension] ?? KPIDimension.none
    }
}

/// When a person reached a stage that deals also mark (opportunity, customer), as PRODUCT.md
/// defines it for the KPIs and the Markov journeys: the contact's own stage time
/// (`became_opportunity_at`, `became_customer_at`) and **only when that is empty** its first
/// deal's (created, resp. closed won) — not the earlier of the two.
public enum ReachedRule {
    public static func at<T>(own: T?, firstDeal: T?) -> T? { own ?? firstDeal }

    /// Per contact id, `at(own:firstDeal:)` over two maps.
    public static func merge<T>(own: [String: T], firstDeal: [String: T]) -> [String: T] {
        firstDeal.merging(own) { deal, mine in at(own: mine, firstDeal: deal) ?? deal }
    }
}

/// What the KPIs need to know about one contact (a person after identity resolution), derived
/// from its row, its stage times, its deals and its touches. Everything is an instant or a cut;
/// the KPI buckets it falls into follow from it alone (`KPIContribution.of`).
public struct ContactKPIFacts: Sendable, Hashable {
    public var createdAt: Timestamp
    /// Current lifecycle stage (a `subscriber` without `became_lead_at` is not a lead).
    public var stage: String?
    public var becameLeadAt: Timestamp?
    public var mqlAt: Timestamp?
    public var salAt: Timestamp?
    /// Reached an opportunity: `became_opportunity_at`, else the creation of its first deal.
    public var opportunityAt: Timestamp?
    public var assignedAt: Timestamp?
    /// The first sales action (call, email_sent, meeting, sales_accept, sales_reject with an
    /// actor) at or after `assignedAt`.
    public var respondedAt: Timestamp?
    /// The business time from assignment to the response on the owner's calendar (ms).
    public var responseBusinessMs: Int64?
    public var cuts: KPICuts
    /// `became_sql_at` and `became_customer_at` (the funnel's later stages).
    public var sqlAt: Timestamp?
    public var customerAt: Timestamp?
    /// For a contact now `recycled` or `disqualified`: when it last moved there and why (the
    /// rejecting handover's configured reason, else the contact's `recycle_reason`, else the
    /// transition's).
    public var exitAt: Timestamp?
    public var exitReason: String?
    /// The latest sales action on the contact (any time), for stale leads.
    public var lastSalesAt: Timestamp?

    public init(
        createdAt: Timestamp,
        stage: String? = nil,
        becameLeadAt: Timestamp? = nil,
        mqlAt: Timestamp? = nil,
        salAt: Timestamp? = nil,
        opportunityAt: Timestamp? = nil,
        assignedAt: Timestamp? = nil,
        respondedAt: Timestamp? = nil,
        responseBusinessMs: Int64? = nil,
        cuts: KPICuts = KPICuts(),
        sqlAt: Timestamp? = nil,
        customerAt: Timestamp? = nil,
        exitAt: Timestamp? = nil,
        exitReason: String? = nil,
        lastSalesAt: Timestamp? = nil
    ) {
        self.sqlAt = sqlAt
        self.customerAt = customerAt
        self.exitAt = exitAt
        self.exitReason = exitReason
        self.lastSalesAt = lastSalesAt
        self.createdAt = createdAt
        self.stage = stage
        self.becameLeadAt = becameLeadAt
        self.mqlAt = mqlAt
        self.salAt = salAt
        self.opportunityAt = opportunityAt
        self.assignedAt = assignedAt
        self.respondedAt = respondedAt
        self.responseBusinessMs = responseBusinessMs
        self.cuts = cuts
    }

    /// The lead time of the lead cohort: `became_lead_at`, else `created_at` unless the contact
    /// is a subscriber (subscribers are not leads).
    public var leadAt: Timestamp? { becameLeadAt ?? (stage == "subscriber" ? nil : createdAt) }
}

/// What the KPIs need to know about one opportunity.
public struct DealKPIFacts: Sendable, Hashable {
    public var createdAt: Timestamp
    public var closedAt: Timestamp?
    /// nil while open.
    public var isWon: Bool?
    /// The amount in minor units (cents), so sums are exact integers; empty = 0.
    public var amountCents: Int64
    /// The expected close date as days since the epoch.
    public var expectedCloseDay: Int64?
    /// Stage probability in percent (0…100), for the weighted pipeline.
    public var probabilityPercent: Int64
    public var lostReason: String?
    /// The earliest marketing touch of the deal's contacts at or before its close.
    public var firstMarketingTouchAt: Timestamp?
    public var cuts: KPICuts

    public init(
        createdAt: Timestamp,
        closedAt: Timestamp? = nil,
        isWon: Bool? = nil,
        amountCents: Int64 = 0,
        expectedCloseDay: Int64? = nil,
        probabilityPercent: Int64 = 0,
        lostReason: String? = nil,
        firstMarketingTouchAt: Timestamp? = nil,
        cuts: KPICuts = KPICuts()
    ) {
        self.createdAt = createdAt
        self.closedAt = closedAt
        self.isWon = isWon
        self.amountCents = amountCents
        self.expectedCloseDay = expectedCloseDay
        self.probabilityPercent = probabilityPercent
        self.lostReason = lostReason
        self.firstMarketingTouchAt = firstMarketingTouchAt
        self.cuts = cuts
    }

    /// Open: no decision yet (`is_won` empty), whatever `closed_at` says.
    public var isOpen: Bool { isWon == nil }
}

/// A cost row.
public struct CostKPIFacts: Sendable, Hashable {
    public var day: Int64
    /// `marketing`, `sales` or something else (counted, not summed).
    public var category: String
    public var amountCents: Int64
    public var campaign: String?
    public var channel: String?

    public init(day: Int64, category: String, amountCents: Int64, campaign: String?, channel: String?) {
        self.day = day
        self.category = category
        self.amountCents = amountCents
        self.campaign = campaign
        self.channel = channel
    }
}

/// Money in the workspace currency as exact minor units.
public enum Money {
    /// Cents of a decimal amount (rounded half away from zero).
    public static func cents(_ amount: Double?) -> Int64 {
        guard let amount, amount.isFinite else { return 0 }
        let c = (amount * 100).rounded()
        // Every way in refuses amounts outside FieldType.moneyRange; a value beyond Int64 can only
        // come from a database written before that check, and is clamped instead of trapping.
        return Int64(exactly: c).map { min(max($0, -maxCents), maxCents) } ?? (c > 0 ? maxCents : -maxCents)
    }

    /// The largest number of cents one amount may count for (10^16): a thousand times the
    /// largest amount the edge admits, and far enough below Int64.max that sums stay exact.
    public static let maxCents: Int64 = 10_000_000_000_000_000

    /// Cents × a percentage (0–100) as cent-percents, exact; held at ±Int64.max on overflow.
    public static func weighted(_ cents: Int64, percent: Int64) -> Int64 {
        let (p, overflow) = cents.multipliedReportingOverflow(by: min(max(percent, 0), 100))
        return overflow ? (cents > 0 ? Int64.max : Int64.min) : p
    }


    /// The decimal amount of a number of cents.
    public static func amount(_ cents: Int64) -> Double { Double(cents) / 100 }
}

/// Default win probabilities of opportunity stages (lower-cased names), for the weighted
/// pipeline. Unknown stages count 10%; a workspace can override the table.
public enum StageProbability {
    public static let defaults: [String: Int64] = [
        "prospecting": 10, "discovery": 20, "qualification": 20, "needs analysis": 30, "demo": 40,
        "proposal": 50, "proposal/price quote": 50, "negotiation": 75, "negotiation/review": 75,
        "commit": 90, "closed won": 100, "closed lost": 0,
    ]

    public static func percent(_ stage: String?, table: [String: Int64] = defaults) -> Int64 {
        guard let stage else { return 10 }
        return table[stage.lowercased()] ?? 10
    }
}

/// Days of the workspace calendar: the local date of an instant in the workspace time zone, as
/// days since 1970-01-01. Periods are `[from, to)` between local midnights, so a period is a
/// range of these days.
public struct KPICalendar: Sendable, Hashable {
    public var timeZone: TimeZone

    public init(timeZone: TimeZone = TimeZone(identifier: "UTC")!) { self.timeZone = timeZone }

    /// The instant a local day starts (its local midnight; after a DST gap at midnight, the
    /// first instant of the day).
    public func start(ofDay day: Int64) -> Timestamp {
        var t = day * 86_400_000
        for _ in 0..<3 {
            let offset = Int64(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(t) / 1000))) * 1000
            t = day * 86_400_000 - offset
        }
        while self.day(Timestamp(milliseconds: t)) < day { t += 60_000 }
        while self.day(Timestamp(milliseconds: t - 1)) == day { t -= 60_000 }
        return Timestamp(milliseconds: t)
    }

    /// The first local day that is not more than `days` days before `asOf`: a lead whose last
    /// sales action (stale) or stage entry (stuck) fell on an earlier day counts.
    public func olderThan(days: Int, asOf: Timestamp) -> Int64 { day(asOf) - Int64(days) }

    /// The local day of an instant.
    public func day(_ t: Timestamp) -> Int64 {
        let offset = Int64(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(t.milliseconds) / 1000))) * 1000
        let local = t.milliseconds + offset
        return local >= 0 ? local / 86_400_000 : (local - 86_399_999) / 86_400_000
    }
}

/// A period as reports write it: its first day, the day after its last, and the workspace time
/// zone its days are in (the `period` object of every report schema).
public struct ReportPeriod: Sendable, Equatable, Codable {
    public var from: String
    public var to: String
    public var timeZone: String

    public init(from: String, to: String, timeZone: String) {
        self.from = from
        self.to = to
        self.timeZone = timeZone
    }

    public init(_ p: KPIPeriod, calendar: KPICalendar) {
        self.init(from: p.from.text, to: p.to.text, timeZone: calendar.timeZone.identifier)
    }
}

/// Hashing of payload-free enums by their case: the in-memory value of such an enum is its case
/// number, so equal cases hash equally without the raw-value string being hashed.
enum EnumCase {
    static func hash<E: RawRepresentable & Equatable>(_ value: E, into hasher: inout Hasher) {
        withUnsafeBytes(of: value) { hasher.combine(bytes: $0) }
    }
}
