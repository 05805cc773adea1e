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
        @Option(help: "An existing workspace database to read (else the bundle is imported into a new one, kept for the next run).")
        var database: String?
        @Option(help: "First day of the period.") var from = "2025-07-01"
        @Option(help: "Day after the last.") var to = "2025-10-01"
        @Option(help: "Cuts, comma-separated.") var by = "channel"
        @Option(help: "Reads to time (after 20 untimed).") var queries = 200

        func run() async throws {
            let path: String
            if let database {
                path = database
            } else {
                let dir = try common.bundleDirectory()
                path = (common.workDir as NSString).appendingPathComponent("smarketing-bench-kpi-\((dir as NSString).lastPathComponent).sqlite")
                if !FileManager.default.fileExists(atPath: path) {
                    FileHandle.standardError.write(Data("importing \(dir) into \(path)\n".utf8))
                    let store = try SQLiteStore.workspace(path: path)
                    let r = try await store.importRows(try Bundle.openReadingAhead(dir), options: ImportOptions(), actor: .cli, at: SystemClock().now()) { _ in
                    }
                    guard r.committed else { throw CLIFailure("the bundle did not import: \(r.problems.first?.description ?? "")") }
                    try await store.checkpoint()
                }
            }
            let store = try SQLiteStore.workspace(path: path)
            let query = try KPI.query(from: from, to: to, by: by)
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
                var db_bytes: Int
            }
            try printJSON(
                Out(
                    items: queries,
                    seconds: seconds,
                    per_second: Double(queries) / seconds,
                    p50_ms: latencies[latencies.count / 2],
                    p99_ms: latencies[min(latencies.count - 1, Int(Double(latencies.count) * 0.99))],
                    min_ms: latencies.first!,
                    max_ms: latencies.last!,
                    groups: groups,
                    period: "\(from)..\(to)",
                    by: by,
                    peak_rss_bytes: peakRSSBytes(),
                    build: Bench.build,
                    database: path,
                    db_bytes: fileSize(path)
                )
            )
        }
    }
}
