import ArgumentParser
import Foundation
import Hummingbird
import Logging
import SmarketingConnectors
import SmarketingCore
import SmarketingServer
import SmarketingStore

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the web app and the API (and, with --demo, fill an empty workspace with demo data first)."
    )

    @OptionGroup var workspace: WorkspaceOptions
    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on.") var port = 8080
    @Option(help: "Largest request body in MiB (413 beyond).") var maxBodyMib = 16
    @Flag(help: "Fill an empty database with a demo workspace, and print an admin login and a fresh API token.") var demo = false
    @Option(help: "Leads in the demo workspace.") var demoLeads = 10_000
    @Flag(help: "Mark session cookies Secure (when users reach the server over HTTPS, e.g. behind a TLS proxy).") var secureCookies = false
    @Flag(help: "Queue webhook deliveries without sending them (a staging copy, a fuzz run); they go out once a server without this flag runs.")
    var noWebhookDelivery = false
    @Flag(help: "Run no scheduled or webhook-triggered syncs of vendor connections (manual `sync run` still works).")
    var noSync = false
    @Flag(name: .customLong("allow-private-urls"), help: "Let webhook and connector URLs point into the server's own network (loopback, private, link-local addresses).")
    var allowPrivateURLs = false
    @Option(help: "text, or json (one JSON object per line on stderr, with each request's request_id).") var logFormat = "text"
    @Option(help: "Requests per second per API token or signed-in user (bursts of 10×); 0: no limit.") var rateLimitToken: Double = 1_000
    @Option(help: "Requests per second per client address (bursts of 10×); 0: no limit.") var rateLimitAddress: Double = 2_000
    @Option(
        name: .customLong("sqlite-cache-mib"),
        help: "SQLite page cache per connection in MiB (1–4096); the server holds up to six connections, so the caches take up to six times this."
    )
    var sqliteCacheMiB = SQLiteStore.defaultPageCacheMiB

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
        guard maxBodyMib >= 1 else { throw ValidationError("--max-body-mib must be at least 1") }
        guard SQLiteStore.pageCacheRange.contains(sqliteCacheMiB) else {
            throw ValidationError("--sqlite-cache-mib must be between \(SQLiteStore.pageCacheRange.lowerBound) and \(SQLiteStore.pageCacheRange.upperBound)")
        }
        guard ["text", "json"].contains(logFormat) else { throw ValidationError("--log-format must be text or json") }
        for (name, v) in [("--rate-limit-token", rateLimitToken), ("--rate-limit-address", rateLimitAddress)] where !(v.isFinite && v >= 0 && v <= 1_000_000) {
            throw ValidationError("\(name) must be between 0 (no limit) and 1000000 requests per second")
        }
    }

    func run() async throws {
        // Before the stores and the server start their threads (ProcessAllocator says why).
        ProcessAllocator.limitArenas(environment: ProcessInfo.processInfo.environment)
        let store = try await openRetrying()
        let clock = SystemClock()
        var banner: [String] = []
        if demo {
            if try await store.count(.contacts) == 0 {
                let dir = FileManager.default.temporaryDirectory.appendingPathComponent("smarketing-demo-\(getpid())").path
                defer { try? FileManager.default.removeItem(atPath: dir) }
                print("creating a demo workspace with \(demoLeads) leads in \(workspace.databasePath) …")
                // The demo's two years of history end today, so the dashboard's default period
                // (this quarter) and the inbox have data.
                var generator = DemoWorkspace(leads: demoLeads, seed: 1)
                generator.start = clock.now().utcDate.adding(days: -generator.days)
                _ = try generator.write(to: dir)
                let result = try await importBundle(dir, into: store, skipInvalid: false, report: nil, json: false, quiet: true)
                guard result.committed else { throw CLIFailure("the demo bundle did not import: \(result.problems.first?.description ?? "unknown problem")") }
                let text = DemoWorkspace.scoringModelText
                guard let model = ScoringModelFile.parser(text) else { throw CLIFailure("the built-in demo scoring model does not read") }
                _ = try await store.applyScoringModel(
                    text: text,
                    model: model,
                    comment: "demo workspace model (examples/scoring-model.yaml)",
                    actor: .cli,
                    at: clock.now(),
                    progress: nil
                )
                let handoverText = DemoWorkspace.handoverConfigText
                guard let handover = HandoverConfigFile.parser(handoverText) else {
                    throw CLIFailure("the built-in demo handover configuration does not read")
                }
                _ = try await store.applyHandoverConfig(
                    text: handoverText,
                    config: handover,
                    comment: "demo workspace routing and SLA (examples/handover.yaml)",
                    actor: .cli,
                    at: clock.now()
                )
                let routed = try await store.routeWaitingMQLs(at: clock.now())
                let feedback = try await DemoRituals.seedFeedback(store, now: clock.now())
                print("routed \(routed + feedback.handovers) MQLs to sales (examples/handover.yaml); sales answered and rated \(feedback.rated)")
                let rituals = try await DemoRituals.seed(store, now: clock.now())
                print("added \(rituals.meetings) past weekly syncs with \(rituals.items) action items")
            }
            let admin = "u-admin"
            guard let adminRecord = try await store.get(.users, id: admin) else {
                throw CLIFailure("this database has data but no demo admin user \"u-admin\"; run serve without --demo")
            }
            let password = randomPassword()
            try await store.setPasswordHash(userID: admin, hash: PasswordHash.make(password), actor: .cli, at: clock.now())
            let token = APIToken.generate()
            _ = try await store.createToken(userID: admin, role: .admin, name: "serve --demo", hash: APIToken.hash(token), actor: .cli, at: clock.now())
            banner = [
                "web app: http://\(host):\(port)/  (sign in with the admin login below)",
                "admin login: \(adminRecord["email"].text ?? admin) / \(password)",
                "API token (admin): \(token)",
                "try: curl -H 'Authorization: Bearer \(token)' http://\(host):\(port)/api/v1/contacts?limit=3",
            ]
        }
        var logger = logFormat == "json" ? Logger(label: "smarketing", factory: { JSONLogHandler(label: $0) }) : Logger(label: "smarketing")
        logger.logLevel = .info
        let interrupted = try await store.failInterruptedApplies()
        if interrupted > 0 { logger.warning("a scoring model apply was interrupted by a stop; it is marked failed and the previous model stays active") }
        var configuration = ServerConfiguration(host: host, port: port, maxBodyBytes: maxBodyMib << 20)
        configuration.secureCookies = secureCookies
        configuration.deliverWebhooks = !noWebhookDelivery
        configuration.syncConnections = !noSync
        configuration.allowPrivateURLs = allowPrivateURLs
        configuration.tokenRateLimit = RateLimit(perSecond: rateLimitToken, burst: max(1, rateLimitToken * 10))
        configuration.addressRateLimit = RateLimit(perSecond: rateLimitAddress, burst: max(1, rateLimitAddress * 10))
        do {
            configuration.secretBox = try SecretBox.forWorkspace(databasePath: workspace.databasePath)
        } catch let e as SecretBoxError {
            // On PostgreSQL the key is SMARKETING_SECRET_KEY; without it everything but vendor
            // connections works (their routes say what is missing).
            guard WorkspaceStores.isPostgres(workspace.databasePath) else { throw CLIFailure(e.description) }
            logger.warning("vendor connections are off, and new webhook secrets are stored in clear: \(e.description)")
        }
        if let box = configuration.secretBox {
            // Webhook secrets an earlier version (or a server without a key) stored in clear.
            let sealed = try await store.rewriteWebhookSecrets { WebhookSecret.isSealed($0) ? nil : try WebhookSecret.seal($0, with: box) }
            if sealed > 0 { logger.notice("sealed \(sealed) webhook signing secret(s) that were stored in clear") }
        }
        configuration.publicURL = ProcessInfo.processInfo.environment["SMARKETING_PUBLIC_URL"]
        let app = buildApplication(
            configuration: configuration,
            store: store,
            clock: clock,
            logger: logger
        )
        var shown = (store as? PostgresStore)?.displayLocation ?? workspace.databasePath
        if let replica = (store as? PostgresStore)?.replicaLocation { shown += " (reports from the replica \(replica))" }
        print("smarketing serving \(shown) at http://\(host):\(port)/  (web app; API description: /openapi.json)")
        for line in banner { print(line) }
        fflush(nil)
        // SIGTERM or SIGINT: the server stops accepting connections, answers the requests in
        // flight (each ingest request returns only after its group commit), stops the
        // background services between passes, and only then does this return.
        try await app.runService()
        if let sqlite = store as? SQLiteStore {
            do { try await sqlite.close() } catch { logger.warning("the database did not close cleanly: \(error)") }
        }
        WorkspaceStores.close(store)
        logger.info("stopped: requests in flight were answered and their writes committed")
    }

    /// Opens the store; a PostgreSQL server that cannot be reached yet (starting, failing over)
    /// is tried again with back-off (1 s doubling to 30 s), each failure said in one sentence.
    func openRetrying() async throws -> any FunnelStore {
        var wait = 1
        while true {
            do {
                return try await workspace.openFunnel(backgroundCheckpoints: true, pageCacheMiB: sqliteCacheMiB)
            } catch let e as CLIFailure where WorkspaceStores.isPostgres(workspace.databasePath) && e.message.hasPrefix("cannot reach PostgreSQL") {
                FileHandle.standardError.write(Data("error: \(e.message); trying again in \(wait) s\n".utf8))
                try await Task.sleep(for: .seconds(wait))
                wait = min(30, wait * 2)
            }
        }
    }
}
