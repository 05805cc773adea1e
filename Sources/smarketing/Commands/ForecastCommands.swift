import ArgumentParser
import Foundation
import SmarketingConnectors
import SmarketingCore
import SmarketingStore

/// `smarketing forecast`: the quarter's won revenue forecast from the workspace's own history,
/// and the method's backtest.
struct ForecastCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forecast",
        abstract: "The fiscal quarter's won revenue forecast with a 90 % interval, and its backtest over the history.",
        subcommands: [Show.self, BacktestForecast.self],
        defaultSubcommand: Show.self
    )

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The current fiscal quarter's forecast (the default subcommand).")
        @OptionGroup var workspace: WorkspaceOptions

        func run() async throws {
            let store = try await workspace.openFunnel()
            let f = try await storeCall { try await ForecastReads.current(store, now: SystemClock().now()) }
            if workspace.json { return try printJSON(f) }
            let currency = try await store.workspaceSettings().settings.currency
            func m(_ v: Double) -> String { FieldValue.format((v).rounded()) + " " + currency }
            print("forecast of won revenue \(f.quarterFrom) – \(f.quarterTo): \(m(f.forecast)) (90 % interval \(m(f.low)) – \(m(f.high)))")
            print("  won so far       \(m(f.wonSoFar))")
            print("  from open deals  \(m(f.expectedFromOpen))  (\(f.openDeals) open, \(m(f.openAmount)))")
            print("  from new deals   \(m(f.expectedFromNew))")
            for s in f.bySegment {
                print("  segment \(s.segment.padding(toLength: 11, withPad: " ", startingAt: 0)) \(s.openDeals) open, expected \(m(s.expected))\(s.ownHistory ? "" : " (pooled history)")")
            }
        }
    }

    struct BacktestForecast: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "backtest",
            abstract: "Replay the forecast at every week of every complete quarter with what was known then; report its error and interval coverage."
        )
        @OptionGroup var workspace: WorkspaceOptions

        func run() async throws {
            let started = Date()
            let b = try await storeCall { try await ForecastReads.backtest(try await workspace.openFunnel(), now: SystemClock().now()) }
            if workspace.json { return try printJSON(b) }
            guard b.quarters > 0 else {
                throw CLIFailure("the history has no complete quarter that starts half a year after the first deal; nothing to backtest")
            }
            func p(_ x: Double?) -> String { x.map { String(format: "%.1f %%", $0 * 100) } ?? "–" }
            print("forecast backtest: \(b.quarters) quarters, \(b.snapshots.count) weekly forecasts, \(String(format: "%.2f", Date().timeIntervalSince(started))) s")
            print("mean absolute error \(p(b.mape)), bias \(p(b.bias)), actual inside the 90 % interval \(p(b.coverage))")
            print("week  forecasts  MAPE     bias     coverage")
            for w in b.byWeek {
                print(String(format: "%4d  %9d  ", w.week, w.snapshots) + p(w.mape).padding(toLength: 9, withPad: " ", startingAt: 0) + p(w.bias).padding(toLength: 9, withPad: " ", startingAt: 0) + p(w.coverage))
            }
            print("method: \(b.method)")
        }
    }
}
