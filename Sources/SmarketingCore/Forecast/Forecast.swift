import Foundation

/// A deal as the forecast reads the history: when it was created and closed, how, for how much,
/// and the segment of its account (by size).
public struct ForecastDeal: Sendable, Hashable {
    public var id: String
    public var createdAt: Timestamp
    public var closedAt: Timestamp?
    public var won: Bool
    public var amount: Double
    public var segment: String
    public var ownerID: String?
    public var stage: String?

    public init(id: String, createdAt: Timestamp, closedAt: Timestamp?, won: Bool, amount: Double, segment: String, ownerID: String?, stage: String?) {
        self.id = id
        self.createdAt = createdAt
        self.closedAt = closedAt
        self.won = won
        self.amount = amount
        self.segment = segment
        self.ownerID = ownerID
        self.stage = stage
    }

    /// The segment of an account by its employees: `smb` (< 200), `mid-market` (200–999),
    /// `enterprise` (≥ 1,000), `unknown`.
    public static func segment(employees: Double?) -> String {
        guard let e = employees, e.isFinite else { return "unknown" }
        return e < 200 ? "smb" : e < 1_000 ? "mid-market" : "enterprise"
    }
}

/// The quarter's won revenue forecast from the workspace's own history (docs/RITUALS.md,
/// "Pipeline forecast"):
///
/// - **won so far**: deals won in the quarter before the forecast's moment;
/// - **open deals**: each open deal's amount × the chance that a deal of its segment, still open
///   at its age, is won within the days left in the quarter. The chance comes from the history
///   known at the moment (deals closed before it; deals still open are censored at their age):
///   a discrete-time competing-risks estimate by week of age (won or lost hazards over deals
///   still open at that age), per segment when the segment has at least `minSegmentDeals`
///   closed deals, else from all segments;
/// - **new deals**: deals not created yet that will be won inside the quarter, at the rate of the
///   past year: the revenue of deals created in the year before and won within half the
///   remaining days of their creation, per day, × the remaining days.
///
/// The interval treats each open deal as an independent win/lose draw and new deals as a
/// compound Poisson flow: variance Σ amount² p(1−p) + Σ amount² rate; `z` standard deviations
/// either side (1.645 for 90 %), never below what is already won.
public struct RevenueForecast: Sendable, Equatable, Codable, ExplicitNullEncodable {
    public var asOf: Timestamp
    public var quarterFrom: String
    public var quarterTo: String
    public var wonSoFar: Double
    public var openDeals: Int
    public var openAmount: Double
    /// Σ amount × p over the open deals.
    public var expectedFromOpen: Double
    public var expectedFromNew: Double
    public var forecast: Double
    public var low: Double
    public var high: Double
    /// The interval's confidence (0.9).
    public var confidence: Double
    public var bySegment: [Segment]

    public struct Segment: Sendable, Equatable, Codable, ExplicitNullEncodable {
        public var segment: String
        public var openDeals: Int
        public var openAmount: Double
        public var expected: Double
        /// Whether the segment's own history was used (else the pooled one).
        public var ownHistory: Bool
    }

    public static let weekMs: Int64 = 7 * 86_400_000
    public static let minSegmentDeals = 30
    /// Below this many deals still open at an age, the weeks share the tail hazard.
    public static let minAtRisk = 10.0
    public static let z90 = 1.645

    /// Won and lost hazards by week of age from the deals known at `asOf`.
    struct Hazards {
        var won: [Double]
        var lost: [Double]
        var closed: Int

        init(_ deals: [ForecastDeal], asOf: Timestamp) {
            var wonAt: [Int: Double] = [:]
            var lostAt: [Int: Double] = [:]
            var exitAt: [Int: Double] = [:]  // deals leaving the risk set after week k (closed or censored)
            var maxWeek = 0
            var closed = 0
            for d in deals where d.createdAt < asOf {
                let end: Timestamp
                var outcome: Bool?
                if let c = d.closedAt, c <= asOf {
                    end = max(c, d.createdAt)
                    outcome = d.won
                    closed += 1
                } else {
                    end = asOf
                }
                let week = Int(min(520, (end.milliseconds - d.createdAt.milliseconds) / RevenueForecast.weekMs))
                maxWeek = max(maxWeek, week)
                if let o = outcome {
                    if o { wonAt[week, default: 0] += 1 } else { lostAt[week, default: 0] += 1 }
                }
                exitAt[week, default: 0] += 1
            }
            var atRisk = Double(exitAt.values.reduce(0, +))
            var won = [Double](repeating: 0, count: maxWeek + 1)
            var lost = [Double](repeating: 0, count: maxWeek + 1)
            // Weeks with fewer than `minAtRisk` deals still open share one constant tail hazard
            // (their events over their deal-weeks), so a handful of old deals does not make a
            // week certain.
            var tailFrom: Int?
            var tailWon = 0.0
            var tailLost = 0.0
            var tailExposure = 0.0
            for k in 0...maxWeek {
                if atRisk >= RevenueForecast.minAtRisk, tailFrom == nil {
                    won[k] = (wonAt[k] ?? 0) / atRisk
                    lost[k] = (lostAt[k] ?? 0) / atRisk
                } else {
                    if tailFrom == nil { tailFrom = k }
                    tailWon += wonAt[k] ?? 0
                    tailLost += lostAt[k] ?? 0
                    tailExposure += max(0, atRisk)
                }
                atRisk -= exitAt[k] ?? 0
            }
            if let t = tailFrom, tailExposure > 0 {
                for k in t...maxWeek {
                    won[k] = tailWon / tailExposure
                    lost[k] = tailLost / tailExposure
                }
            }
            self.won = won
            self.lost = lost
            self.closed = closed
        }

        /// The chance that a deal open at age `ageMs` is won within `windowMs` more (ages past the
        /// history's oldest week keep its last hazard).
        func winChance(ageMs: Int64, windowMs: Int64) -> Double {
            guard windowMs > 0, !won.isEmpty else { return 0 }
            let first = Int(max(0, ageMs) / RevenueForecast.weekMs)
            let last = Int((max(0, ageMs) + windowMs) / RevenueForecast.weekMs)
            var open = 1.0
            var p = 0.0
            for k in first...last {
                let w = k < won.count ? won[k] : (won.last ?? 0)
                let l = k < lost.count ? lost[k] : (lost.last ?? 0)
                // The first and last weeks count for the part of them inside the window.
                var share = 1.0
                if k == first || k == last {
                    let weekStart = Int64(k) * RevenueForecast.weekMs
                    let from = max(weekStart, ageMs)
                    let to = min(weekStart + RevenueForecast.weekMs, ageMs + windowMs)
                    share = max(0, Double(to - from)) / Double(RevenueForecast.weekMs)
                }
                p += open * w * share
                open *= 1 - min(1, (w + l) * share)
                if open <= 1e-9 { break }
            }
            return min(1, max(0, p))
        }
    }

    /// The forecast at `asOf` of the revenue won in `quarter` (days in `calendar`'s zone).
    public static func make(_ deals: [ForecastDeal], quarter: KPIPeriod, asOf: Timestamp, calendar: KPICalendar, z: Double = z90) -> RevenueForecast {
        let qStart = calendar.start(ofDay: quarter.from.daysSinceEpoch)
        let qEnd = calendar.start(ofDay: quarter.to.daysSinceEpoch)
        let now = min(max(asOf, qStart), qEnd)
        let remaining = max(0, qEnd.milliseconds - now.milliseconds)
        let known = deals.filter { $0.createdAt < now }
        let pooled = Hazards(known, asOf: now)
        var bySegmentHazards: [String: Hazards] = [:]
        for (segment, list) in Dictionary(grouping: known, by: \.segment) {
            let h = Hazards(list, asOf: now)
            if h.closed >= minSegmentDeals { bySegmentHazards[segment] = h }
        }
        var wonSoFar = 0.0
        var expectedOpen = 0.0
        var variance = 0.0
        var openCount = 0
        var openAmount = 0.0
        var segments: [String: Segment] = [:]
        for d in known {
            if let c = d.closedAt, c <= now {
                if d.won, c >= qStart { wonSoFar += d.amount }
                continue
            }
            let h = bySegmentHazards[d.segment] ?? pooled
            let p = h.winChance(ageMs: now.milliseconds - d.createdAt.milliseconds, windowMs: remaining)
            let amount = max(0, d.amount)
            expectedOpen += amount * p
            variance += amount * amount * p * (1 - p)
            openCount += 1
            openAmount += amount
            var s = segments[d.segment] ?? Segment(segment: d.segment, openDeals: 0, openAmount: 0, expected: 0, ownHistory: bySegmentHazards[d.segment] != nil)
            s.openDeals += 1
            s.openAmount += amount
            s.expected += amount * p
            segments[d.segment] = s
        }
        // New deals: the past year's revenue from deals won within half the remaining window of creation, per day.
        let year: Int64 = 365 * 86_400_000
        let half = remaining / 2
        var newRevenue = 0.0
        var newSquares = 0.0
        for d in known where d.won && d.createdAt.milliseconds >= now.milliseconds - year {
            guard let c = d.closedAt, c <= now, c.milliseconds - d.createdAt.milliseconds <= half else { continue }
            newRevenue += max(0, d.amount)
            newSquares += d.amount * d.amount
        }
        let share = Double(remaining) / Double(year)
        let expectedNew = newRevenue * share
        variance += newSquares * share
        let forecast = wonSoFar + expectedOpen + expectedNew
        let sd = variance.squareRoot()
        return RevenueForecast(
            asOf: asOf,
            quarterFrom: quarter.from.text,
            quarterTo: quarter.to.text,
            wonSoFar: wonSoFar,
            openDeals: openCount,
            openAmount: openAmount,
            expectedFromOpen: expectedOpen,
            expectedFromNew: expectedNew,
            forecast: forecast,
            low: max(wonSoFar, forecast - z * sd),
            high: forecast + z * sd,
            confidence: 0.9,
            bySegment: segments.values.sorted { $0.segment < $1.segment }
        )
    }

    /// The revenue actually won in a quarter (deals closed won inside it).
    public static func actual(_ deals: [ForecastDeal], quarter: KPIPeriod, calendar: KPICalendar) -> Double {
        let qStart = calendar.start(ofDay: quarter.from.daysSinceEpoch)
        let qEnd = calendar.start(ofDay: quarter.to.daysSinceEpoch)
        return deals.reduce(0) { sum, d in
            guard d.won, let c = d.closedAt, c >= qStart, c < qEnd else { return sum }
            return sum + max(0, d.amount)
        }
    }
}

/// The forecast method replayed over the history: at every week of every complete quarter, the
/// forecast made with what was known then against what the quarter actually won.
public struct ForecastBacktest: Sendable, Equatable, Codable, ExplicitNullEncodable {
    public struct Snapshot: Sendable, Equatable, Codable, ExplicitNullEncodable {
        public var asOf: Timestamp
        public var quarterFrom: String
        /// Weeks into the quarter (0 = its first day).
        public var week: Int
        public var forecast: Double
        public var low: Double
        public var high: Double
        public var actual: Double
        /// (forecast − actual) ÷ actual; nil when nothing was won.
        public var error: Double?
        public var covered: Bool
    }
    public struct WeekAccuracy: Sendable, Equatable, Codable, ExplicitNullEncodable {
        public var week: Int
        public var snapshots: Int
        /// Mean absolute percentage error.
        public var mape: Double?
        /// Mean signed error (positive: forecast too high).
        public var bias: Double?
        /// Share of actuals inside the interval.
        public var coverage: Double?
    }

    public var schema = "smarketing-forecast-backtest/1"
    public var quarters: Int
    public var snapshots: [Snapshot]
    public var byWeek: [WeekAccuracy]
    public var mape: Double?
    public var bias: Double?
    public var coverage: Double?
    public var method: String

    public static let methodText =
        "won so far + Σ open amount × P(won within the days left | segment, age) from a weekly competing-risks estimate of the history known at the moment + the past year's run rate of deals created and won inside the window; 90 % interval from Bernoulli and Poisson variances"

    /// Replays the forecast weekly over the complete quarters in `quarters` (each needs at
    /// least `warmupDays` of history before it).
    public static func run(_ deals: [ForecastDeal], quarters: [KPIPeriod], calendar: KPICalendar) -> ForecastBacktest {
        var snaps: [Snapshot] = []
        for q in quarters {
            let actual = RevenueForecast.actual(deals, quarter: q, calendar: calendar)
            var day = q.from
            var week = 0
            while day < q.to {
                let at = calendar.start(ofDay: day.daysSinceEpoch)
                let f = RevenueForecast.make(deals, quarter: q, asOf: at, calendar: calendar)
                snaps.append(
                    Snapshot(
                        asOf: at, quarterFrom: q.from.text, week: week, forecast: f.forecast, low: f.low, high: f.high, actual: actual,
                        error: actual > 0 ? (f.forecast - actual) / actual : nil, covered: f.low <= actual && actual <= f.high
                    )
                )
                day = day.adding(days: 7)
                week += 1
            }
        }
        func accuracy(_ s: [Snapshot]) -> (Double?, Double?, Double?) {
            let errs = s.compactMap(\.error)
            guard !s.isEmpty else { return (nil, nil, nil) }
            let mape = errs.isEmpty ? nil : errs.map(abs).reduce(0, +) / Double(errs.count)
            let bias = errs.isEmpty ? nil : errs.reduce(0, +) / Double(errs.count)
            return (mape, bias, Double(s.filter(\.covered).count) / Double(s.count))
        }
        let weeks = Dictionary(grouping: snaps, by: \.week).map { week, list -> WeekAccuracy in
            let (m, b, c) = accuracy(list)
            return WeekAccuracy(week: week, snapshots: list.count, mape: m, bias: b, coverage: c)
        }.sorted { $0.week < $1.week }
        let (m, b, c) = accuracy(snaps)
        return ForecastBacktest(quarters: quarters.count, snapshots: snaps, byWeek: weeks, mape: m, bias: b, coverage: c, method: methodText)
    }

    /// The complete quarters of the history worth replaying: from the first quarter that starts
    /// at least `warmupDays` after the first deal, to the last quarter that ended before `now`.
    public static func quarters(_ deals: [ForecastDeal], settings: WorkspaceSettings, now: Timestamp, warmupDays: Int = 180) -> [KPIPeriod] {
        let calendar = KPICalendar(timeZone: settings.timeZone)
        guard let first = deals.map(\.createdAt).min() else { return [] }
        let start = LocalDate(daysSinceEpoch: calendar.day(first)).adding(days: warmupDays)
        let today = LocalDate(daysSinceEpoch: calendar.day(now))
        var q = settings.fiscalQuarter(containing: start)
        if q.from < start { q = settings.fiscalQuarter(containing: q.to) }
        var out: [KPIPeriod] = []
        while q.to <= today, out.count < 40 {
            out.append(q)
            q = settings.fiscalQuarter(containing: q.to)
        }
        return out
    }
}
