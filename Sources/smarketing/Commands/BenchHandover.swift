import ArgumentParser
import Foundation
import Hummingbird
import Logging
import SmarketingConnectors
import SmarketingCore
import SmarketingServer
import SmarketingStore
import Synchronization

extension Bench {
    struct SLASuite: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sla",
            abstract: "The breach service's due-clock scan among many open clocks: nothing due, and some due (fired, once)."
        )
        @Option(help: "Open clocks.") var clocks = 1_000_000
        @Option(help: "Clocks due at the measured instant (fired in the second measurement).") var due = 1000
        @Option(help: "Scans measured; the median is reported.") var reps = 20
        @Option(help: "Directory for the temporary database.") var workDir = FileManager.default.temporaryDirectory.path

        func run() async throws {
            let path = freshBenchDatabase("sla", in: workDir)
            defer { removeDatabase(path) }
            let store = try SQLiteStore.workspace(path: path)
            let now = SystemClock().now()
            let day: Int64 = 86_400_000
            FileHandle.standardError.write(Data("writing \(clocks) open clocks …\n".utf8))
            // `due` clocks fall due in the minute before `now`; the rest over the next 30 days.
            try await store.benchSeedOpenClocks(count: due, dueFrom: now.adding(milliseconds: -60_000), spreadMs: 60_000, at: now)
            try await store.benchSeedOpenClocks(count: clocks - due, dueFrom: now.adding(milliseconds: 3_600_000), spreadMs: 30 * day, at: now)
            try await store.checkpoint()
            let plan = try await store.dueClockPlan()
            // Nothing due (an hour ago): the cost of looking.
            var idle: [Double] = []
            for _ in 0..<reps {
                let started = DispatchTime.now().uptimeNanoseconds
                let run = try await store.processDueClocks(now: now.adding(milliseconds: -3_600_000), limit: 500)
                idle.append(Double(DispatchTime.now().uptimeNanoseconds - started) / 1e6)
                guard run.clocksSeen == 0 else { throw CLIFailure("clocks were due before the seeded ones") }
            }
            // `due` clocks due now: found, breached, logged and sent to the outbox, once.
            let started = DispatchTime.now().uptimeNanoseconds
            let fired = try await store.processDueClocks(now: now, limit: 500)
            let busy = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e6
            let again = try await store.processDueClocks(now: now, limit: 500)
            struct Out: Encodable {
                var suite = "sla-due-scan"
                var open_clocks: Int
                var scan_ms_median: Double
                var scan_ms_max: Double
                var due: Int
                var fired_breaches: Int
                var fire_ms: Double
                var fired_again: Int
                var query_plan: String
                var build = Bench.build
                var peak_rss_bytes = peakRSSBytes()
            }
            let sorted = idle.sorted()
            try printJSON(
                Out(
                    open_clocks: clocks,
                    scan_ms_median: sorted[sorted.count / 2],
                    scan_ms_max: sorted.last!,
                    due: due,
                    fired_breaches: fired.breaches,
                    fire_ms: busy,
                    fired_again: again.breaches,
                    query_plan: plan
                )
            )
        }
    }

    struct WebhookSuite: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "webhooks",
            abstract: "Deliveries/s to a local receiver (signed, in order, each recorded)."
        )
        @Option(help: "Deliveries queued before timing.") var deliveries = 20_000
        @Option(help: "Directory for the temporary database.") var workDir = FileManager.default.temporaryDirectory.path

        func run() async throws {
            let path = freshBenchDatabase("webhooks", in: workDir)
            defer { removeDatabase(path) }
            let store = try SQLiteStore.workspace(path: path)
            // The receiver: a loopback HTTP server in this process that answers 204.
            let router = Router()
            router.post("/hook") { _, _ in Response(status: .noContent) }
            let port = PortBox()
            let app = Application(
                router: router,
                configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                onServerRunning: { port.set($0.localAddress?.port) },
                logger: Logger(label: "receiver")
            )
            let server = Task { try await app.runService() }
            defer { server.cancel() }
            var listening: Int?
            for _ in 0..<200 where listening == nil {
                listening = port.get()
                if listening == nil { try await Task.sleep(for: .milliseconds(10)) }
            }
            guard let listening else { throw CLIFailure("the local receiver did not start") }
            let clock = SystemClock()
            let sub = try await store.createWebhook(
                url: "http://127.0.0.1:\(listening)/hook",
                events: ["*"],
                format: "json",
                secret: "bench-secret-0123456789",
                actor: .cli,
                at: clock.now()
            )
            try await store.benchSeedDeliveries(subscriptionID: sub.id, count: deliveries, at: clock.now())
            var logger = Logger(label: "bench")
            logger.logLevel = .error
            let dispatcher = WebhookDispatcher(store: store, clock: clock, logger: logger, allowPrivateURLs: true)
            let started = DispatchTime.now().uptimeNanoseconds
            let (attempts, failed) = try await dispatcher.drain()
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
            let delivered = try await store.deliveries(subscriptionID: sub.id, status: "delivered", limit: deliveries).count
            struct Out: Encodable {
                var suite = "webhook-delivery"
                var deliveries: Int
                var delivered: Int
                var attempts: Int
                var failed: Int
                var seconds: Double
                var per_second: Double
                var build = Bench.build
            }
            try printJSON(
                Out(
                    deliveries: deliveries,
                    delivered: delivered,
                    attempts: attempts,
                    failed: failed,
                    seconds: seconds,
                    per_second: Double(delivered) / seconds
                )
            )
        }
    }
}

/// The receiver's port, set from its channel callback.
final class PortBox: Sendable {
    private let port = Mutex<Int?>(nil)
    func set(_ p: Int?) { port.withLock { $0 = p } }
    func get() -> Int? { port.withLock { $0 } }
}
