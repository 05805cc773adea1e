import ArgumentParser
import Foundation
import SmarketingConnectors
import SmarketingCore
import SmarketingStore

extension Bench {
    /// Latency of the full dashboard KPI set read from the aggregates.
    struct KPISuite: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "kpi",
            abstract: "Latency of the full KPI set (a period, by channel) from the incremental aggregates."
        )
        @OptionGroup var common: Common
        @Option(help: "First day of the period.") var from = "2025-07-01"
        @Option(help: "Day after the last.") var to = "2025-10-01"
        @Option(help: "Cuts, comma-separated.") var by = "channel"
        @Option(help: "Reads to time (after 20 untimed).") var queries = 200

        func validate() throws {
            guard (1...1_000_000).contains(queries) else { throw ValidationError("--queries must be between 1 and 1000000") }
        }

        func run() async throws {
            let (store, path) = try await common.readWorkspace(suite: "kpi")
            defer { WorkspaceStores.close(store) }
            let query = try await KPI.query(from: from, to: to, by: by, workspace: nil)
            for _ in 0..<20 { _ = try await store.kpis(query) }
            var latencies: [Double] = []
            let started = DispatchTime.now().uptimeNanoseconds
            var groups = 0
            for _ in 0..<queries {
                let t = DispatchTime.now().uptimeNanoseconds
                let report = try await store.kpis(query)
                latencies.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6)
                groups = report.by.values.reduce(0) { $0 + $1.count }
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
            latencies.sort()
            struct Out: Encodable {
                var suite = "kpi"
                var items: Int
                var seconds: Double
                var per_second: Double
                var p50_ms: Double
                var p99_ms: Double
                var min_ms: Double
                var max_ms: Double
                var groups: Int
                var period: String
                var by: String
                var peak_rss_bytes: Int
                var build: String
                var database: String
                var backend: String
                var db_bytes: Int
            }
            try printJSON(
                Out(
                    items: queries,
                    seconds: seconds,
                    per_second: Double(queries) / seconds,
                    p50_ms: Bench.percentile(latencies, 0.5),
                    p99_ms: Bench.percentile(latencies, 0.99),
                    min_ms: latencies.first ?? 0,
                    max_ms: latencies.last ?? 0,
                    groups: groups,
                    period: "\(from)..\(to)",
                    by: by,
                    peak_rss_bytes: peakRSSBytes(),
                    build: Bench.build,
                    database: WorkspaceStores.display(path),
                    backend: WorkspaceStores.isPostgres(path) ? "postgresql" : "sqlite",
                    db_bytes: await WorkspaceStores.storedBytes(path)
                )
            )
        }
    }
}

extension Bench {
    /// Latency of the attribution report (in process, the data in the workspace: the same footing
    /// as DuckDB's query time with its data loaded).
    struct AttributionSuite: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "attribution",
            abstract: "Latency of the attribution report of a period (rule-based models by default) on an existing workspace."
        )
        @Option(help: "The workspace database to read.") var database: String
        @Option(help: "First day of the period.") var from = "2025-01-01"
        @Option(help: "Day after the last.") var to = "2026-01-01"
        @Option(help: "channel, campaign or content.") var by = "campaign"
        @Option(help: "Models: all, rules (the eight rule-based ones) or a comma-separated list.") var model = "rules"
        @Option(help: "Reports to time (after 3 untimed).") var runs = 20

        func run() async throws {
            let period = try await KPI.query(from: from, to: to, by: nil, workspace: nil).period
            guard let cut = AttributionCut(rawValue: by) else { throw CLIFailure("--by takes channel, campaign or content, not \(by)") }
            let models: [AttributionModel]
            if model == "rules" {
                models = AttributionModel.allCases.filter { !AttributionModel.needsJourneys([$0]) }
            } else {
                switch AttributionModel.list(model) {
                case .success(let m): models = m
                case .failure(let e): throw CLIFailure("--model " + e.message)
                }
            }
            let store = try SQLiteStore.workspace(path: database)
            func once() async throws -> AttributionReport {
                try await store.attribution(period: period, by: [cut], models: models)[cut]!
            }
            for _ in 0..<3 { _ = try await once() }
            var latencies: [Double] = []
            var deals = 0
            for _ in 0..<runs {
                let t = DispatchTime.now().uptimeNanoseconds
                deals = try await once().dealsWon
                latencies.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6)
            }
            latencies.sort()
            struct Out: Encodable {
                var suite = "attribution"
                var models: [String]
                var by: String
                var period: String
                var deals_won: Int
                var runs: Int
                var p50_ms: Double
                var min_ms: Double
                var max_ms: Double
                var peak_rss_bytes: Int
            }
            try printJSON(
                Out(
                    models: models.map(\.rawValue),
                    by: by,
                    period: "\(from)..\(to)",
                    deals_won: deals,
                    runs: runs,
                    p50_ms: Bench.percentile(latencies, 0.5),
                    min_ms: latencies.first ?? 0,
                    max_ms: latencies.last ?? 0,
                    peak_rss_bytes: peakRSSBytes()
                )
            )
        }
    }
}
