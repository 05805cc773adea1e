import ArgumentParser
import Crypto
import Foundation
import SmarketingConnectors
import SmarketingCore
import SmarketingStore

extension Bench {
    /// A HubSpot sync against a vendor at `--base-url` (scripts/bench-sync starts a local fake
    /// with the published rate limit): how much of the allowed request rate the initial sync
    /// used, the product's CPU per record, an incremental sync after changes, and the write-back's
    /// records per request. Prints one JSON object.
    struct SyncSuite: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "sync", abstract: "Initial and incremental sync and write-back against a HubSpot-compatible server.")
        @Option(help: "The vendor's base URL.") var baseURL: String
        @Option(help: "The private-app token.") var token: String
        @Option(help: "Allowed requests per window.") var rateLimit = 100
        @Option(help: "The window in seconds.") var window = 10.0
        @Option(help: "Directory for the temporary database.") var workDir = FileManager.default.temporaryDirectory.path
        @Option(help: "A command run between the initial and the incremental sync (changes records at the vendor).") var between: String?
        @Flag(help: "Also run the write-back (after the syncs).") var writeback = false

        struct Out: Encodable {
            var suite = "sync"
            var build = Bench.build
            var vendor = "hubspot"
            var allowedPerSecond: Double
            var initial: Phase
            var incremental: Phase?
            var writeback: WritebackPhase?
        }

        struct Phase: Encodable {
            var records: Int
            var requests: Int
            var seconds: Double
            var requestsPerSecond: Double
            var utilization: Double
            var cpuSeconds: Double
            var cpuMicrosecondsPerRecord: Double
            var status: String
        }

        struct WritebackPhase: Encodable {
            var changes: Int
            var records: Int
            var requests: Int
            var recordsPerRequest: Double
            var seconds: Double
            var failed: Int
        }

        static func cpuSeconds() -> Double { processCPUSeconds() }

        func run() async throws {
            let db = freshBenchDatabase("sync", in: workDir)
            let store = try SQLiteStore.workspace(path: db)
            let service = ConnectionService(store: store, box: SecretBox(key: SymmetricKey(size: .bits256)), clock: SystemClock())
            _ = try await connectionCall {
                try await service.add(
                    name: "bench",
                    vendor: .hubspot,
                    baseURL: baseURL,
                    secrets: ["access_token": token],
                    settings: ["rate_limit": String(rateLimit), "rate_window_seconds": String(window)],
                    actor: .cli
                )
            }
            let allowed = Double(rateLimit) / window
            func phase(_ full: Bool) async throws -> Phase {
                let cpu0 = Self.cpuSeconds()
                let progress = ProgressReporter()
                let r = try await connectionCall {
                    try await service.sync("bench", full: full, actor: .cli) { p in progress.update("sync \(p.object.rawValue) page \(p.pages), records", p.counts.read) }
                }
                progress.finish()
                let cpu = Self.cpuSeconds() - cpu0
                let records = r.counts.values.reduce(0) { $0 + $1.read }
                let rate = Double(r.requests) / max(r.seconds, 1e-9)
                return Phase(
                    records: records,
                    requests: r.requests,
                    seconds: r.seconds,
                    requestsPerSecond: rate,
                    utilization: rate / allowed,
                    cpuSeconds: cpu,
                    cpuMicrosecondsPerRecord: records == 0 ? 0 : cpu / Double(records) * 1e6,
                    status: r.status
                )
            }
            let initial = try await phase(true)
            var incremental: Phase?
            if let between {
                let p = Process()
                p.executableURL = URL(fileURLWithPath: "/bin/sh")
                p.arguments = ["-c", between]
                try p.run()
                p.waitUntilExit()
                guard p.terminationStatus == 0 else { throw CLIFailure("--between failed with status \(p.terminationStatus)") }
                incremental = try await phase(false)
            }
            var wb: WritebackPhase?
            if writeback {
                _ = try await connectionCall { try await service.setupFields("bench") }
                let started = Date()
                let r = try await connectionCall { try await service.writeback("bench", dryRun: false) }
                let records = Set(try await store.writebackLog(connection: "bench", limit: 10_000_000).map(\.recordID)).count
                wb = WritebackPhase(
                    changes: r.queued,
                    records: records,
                    requests: r.requests,
                    recordsPerRequest: r.requests == 0 ? 0 : Double(records) / Double(r.requests),
                    seconds: Date().timeIntervalSince(started),
                    failed: r.failed
                )
            }
            try printJSON(Out(allowedPerSecond: allowed, initial: initial, incremental: incremental, writeback: wb))
            try? FileManager.default.removeItem(atPath: db)
        }
    }
}
