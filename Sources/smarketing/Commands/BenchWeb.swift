import ArgumentParser
import Foundation
import Hummingbird
import Logging
import SmarketingConnectors
import SmarketingCore
import SmarketingServer
import SmarketingStore

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif

extension Bench {
    /// Server time of the web app's pages on an existing workspace: the real server on a loopback
    /// port, an admin session, each page fetched `--reps` times after one cold fetch.
    struct WebSuite: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "web",
            abstract: "Latency of every web page (real server on loopback, signed in as an admin); prints JSON."
        )
        @Option(help: "The workspace to serve: a SQLite file or a postgres:// URL (for example the 1,000,000-lead one of `bench kpi`).") var database: String
        @Option(help: "First day of the dashboard period.") var from = "2025-07-01"
        @Option(help: "Day after its last.") var to = "2025-10-01"
        @Option(help: "Timed fetches per page (after one cold fetch).") var reps = 20

        func run() async throws {
            if !WorkspaceStores.isPostgres(database) {
                guard FileManager.default.fileExists(atPath: database) else { throw CLIFailure("no workspace database at \(database)") }
            }
            let store = try await WorkspaceStores.open(database)
            defer { WorkspaceStores.close(store) }
            let clock = SystemClock()
            var q = ListQuery()
            q.equals["access_role"] = .text("admin")
            q.limit = 1
            guard let admin = try await store.list(.users, q).records.first else { throw CLIFailure("the workspace has no admin user") }
            // A session straight in the store, as a sign-in would create it (the password stays unknown).
            let secret = APIToken.generate()
            let now = clock.now()
            try await store.createWebSession(
                WebSession(
                    idHash: APIToken.hash(secret),
                    userID: admin.id,
                    role: .admin,
                    csrf: "bench",
                    createdAt: now,
                    expiresAt: now.adding(milliseconds: 3_600_000)
                )
            )
            let port = try LoopbackPort.free()
            var configuration = ServerConfiguration(host: "127.0.0.1", port: port)
            // One client as fast as it can: no rate limits.
            configuration.tokenRateLimit = RateLimit(perSecond: 0, burst: 1)
            configuration.addressRateLimit = RateLimit(perSecond: 0, burst: 1)
            configuration.backgroundServices = false
            var logger = Logger(label: "bench-web")
            logger.logLevel = .warning
            let app = buildApplication(configuration: configuration, store: store, clock: clock, logger: logger)
            let server = Task { try await app.runService(gracefulShutdownSignals: []) }
            defer { server.cancel() }
            let base = "http://127.0.0.1:\(port)"
            let session = URLSession(configuration: .ephemeral)
            // Wait for the listener.
            for _ in 0..<100 {
                if (try? await fetch(session, base + "/healthz", secret))?.status == 200 { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            let period = "from=\(from)&to=\(to)"
            let firstLead = try await store.leads(LeadQuery(), now: now).rows.first?.id ?? "none"
            let firstCampaign = try await store.list(.campaigns, ListQuery()).records.first?.id ?? "none"
            let pages = [
                "/?\(period)", "/?\(period)&by=channel", "/inbox", "/leads", "/leads?stage=sql&grade=A", "/leads?q=anna", "/leads?stale=14",
                "/leads/\(firstLead)", "/campaigns?\(period)", "/campaigns/\(firstCampaign)?\(period)", "/pipeline?\(period)", "/personas",
                "/content?\(period)", "/settings/users", "/settings/tokens", "/settings/webhooks", "/settings/scoring", "/settings/routing",
                "/settings/targets",
            ]
            struct PageResult: Encodable {
                var page: String
                var status: Int
                var bytes: Int
                var cold_ms: Double
                var p50_ms: Double
                var p90_ms: Double
                var max_ms: Double
            }
            var results: [PageResult] = []
            for page in pages {
                FileHandle.standardError.write(Data("timing \(page)\n".utf8))
                let cold = try await fetch(session, base + page, secret)
                var times: [Double] = []
                var last = cold
                for _ in 0..<reps {
                    last = try await fetch(session, base + page, secret)
                    times.append(last.ms)
                }
                times.sort()
                results.append(
                    PageResult(
                        page: page,
                        status: last.status,
                        bytes: last.bytes,
                        cold_ms: cold.ms,
                        p50_ms: Bench.percentile(times, 0.5),
                        p90_ms: times[min(times.count - 1, times.count * 9 / 10)],
                        max_ms: times.last ?? cold.ms
                    )
                )
            }
            try await store.deleteWebSession(idHash: APIToken.hash(secret))
            struct Out: Encodable {
                var suite = "web"
                var reps: Int
                var pages: [PageResult]
                var slowest_p50_ms: Double
                var pages_over_100ms_p50: Int
                var peak_rss_bytes: Int
                var build: String
                var database: String
            }
            try printJSON(
                Out(
                    reps: reps,
                    pages: results,
                    slowest_p50_ms: results.map(\.p50_ms).max() ?? 0,
                    pages_over_100ms_p50: results.filter { $0.p50_ms > 100 }.count,
                    peak_rss_bytes: peakRSSBytes(),
                    build: Bench.build,
                    database: database
                )
            )
        }

        struct Fetched {
            var status: Int
            var bytes: Int
            var ms: Double
        }

        func fetch(_ session: URLSession, _ url: String, _ secret: String) async throws -> Fetched {
            var request = URLRequest(url: URL(string: url)!)
            request.setValue("smk_session=" + secret, forHTTPHeaderField: "Cookie")
            let t = DispatchTime.now().uptimeNanoseconds
            let (data, response) = try await session.data(for: request)
            let ms = Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6
            return Fetched(status: (response as? HTTPURLResponse)?.statusCode ?? 0, bytes: data.count, ms: ms)
        }
    }
}
