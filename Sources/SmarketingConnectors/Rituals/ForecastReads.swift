import Foundation
import SmarketingCore
import SmarketingStore

/// The pipeline forecast where it is read: the CLI, the API and the pipeline review.
public enum ForecastReads {
    /// The forecast of the fiscal quarter holding `now`, with the deals it read.
    public static func current(_ store: any FunnelStore, now: Timestamp) async throws -> RevenueForecast {
        let settings = try await store.workspaceSettings().settings
        let calendar = KPICalendar(timeZone: settings.timeZone)
        let quarter = settings.fiscalQuarter(containing: LocalDate(daysSinceEpoch: calendar.day(now)))
        return RevenueForecast.make(try await store.forecastDeals(), quarter: quarter, asOf: now, calendar: calendar)
    }

    /// The method replayed weekly over the complete quarters of the history.
    public static func backtest(_ store: any FunnelStore, now: Timestamp) async throws -> ForecastBacktest {
        let settings = try await store.workspaceSettings().settings
        let deals = try await store.forecastDeals()
        let quarters = ForecastBacktest.quarters(deals, settings: settings, now: now)
        return ForecastBacktest.run(deals, quarters: quarters, calendar: KPICalendar(timeZone: settings.timeZone))
    }

    /// Forecast against actual week by week: the last complete quarter (its final actual) and the
    /// current one so far (won to date at each week), for the review's chart.
    public struct Tracking: Sendable {
        public var lastQuarter: [ForecastBacktest.Snapshot]
        public var currentQuarter: [(asOf: Timestamp, forecast: Double, low: Double, high: Double, wonToDate: Double)]
        public var current: RevenueForecast
    }

    public static func tracking(_ store: any FunnelStore, now: Timestamp) async throws -> Tracking {
        let settings = try await store.workspaceSettings().settings
        let calendar = KPICalendar(timeZone: settings.timeZone)
        let deals = try await store.forecastDeals()
        let today = LocalDate(daysSinceEpoch: calendar.day(now))
        let quarter = settings.fiscalQuarter(containing: today)
        let last = settings.fiscalQuarter(containing: quarter.from.adding(days: -1))
        let lastRun = ForecastBacktest.run(deals, quarters: [last], calendar: calendar)
        var points: [(asOf: Timestamp, forecast: Double, low: Double, high: Double, wonToDate: Double)] = []
        var day = quarter.from
        while day <= today {
            let at = calendar.start(ofDay: day.daysSinceEpoch)
            let f = RevenueForecast.make(deals, quarter: quarter, asOf: at, calendar: calendar)
            points.append((at, f.forecast, f.low, f.high, f.wonSoFar))
            day = day.adding(days: 7)
        }
        return Tracking(lastQuarter: lastRun.snapshots, currentQuarter: points, current: RevenueForecast.make(deals, quarter: quarter, asOf: now, calendar: calendar))
    }
}
