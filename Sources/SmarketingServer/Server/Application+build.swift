import Foundation
import HTTPTypes
import Hummingbird
import Logging
import ServiceLifecycle
import SmarketingConnectors
import SmarketingCore
import SmarketingStore

/// How the server runs.
public struct ServerConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    /// Largest request body accepted (413 beyond).
    public var maxBodyBytes = 16 << 20
    /// Run the SLA breach service and the webhook dispatcher beside the API.
    public var backgroundServices = true
    /// How often the breach service looks for due clocks.
    public var slaInterval: Duration = .seconds(1)
    /// How long the webhook dispatcher waits when nothing is due.
    public var webhookInterval: Duration = .milliseconds(200)
    /// Send webhook deliveries. Off, they are queued and logged as usual but nothing leaves the
    /// machine (a staging copy of production data, or a fuzz run whose subscriptions name
    /// made-up hosts); a server with it on sends them later.
    public var deliverWebhooks = true
    /// Mark session cookies `Secure` (set when the server is reached over HTTPS, e.g. behind a proxy).
    public var secureCookies = false
    /// Seals vendor credentials; without it the connection routes answer 503.
    public var secretBox: SecretBox?
    /// The server's public base URL (HubSpot signs the URL it called); default: from the request.
    public var publicURL: String?
    /// Run scheduled and webhook-triggered syncs.
    public var syncConnections = true
    /// Requests per API token (or signed-in user), and per client address (every route but
    /// the health, readiness and metrics routes); over it: 429 with Retry-After.
    /// The defaults stop a runaway client, not a busy integration: a release server takes a few
    /// thousand requests a second on two cores (docs/BENCHMARKS.md); 0 turns a limit off.
    public var tokenRateLimit = RateLimit(perSecond: 1_000, burst: 10_000)
    public var addressRateLimit = RateLimit(perSecond: 2_000, burst: 20_000)
    /// Webhook and connector URLs may point into the server's own network (loopback, private,
    /// link-local ranges); off, such URLs are refused when given and webhook deliveries to
    /// names that resolve there fail.
    public var allowPrivateURLs = false
    /// Where the metrics are recorded (`GET /metrics`).
    public var metrics = ServerMetrics()

    /// Creates a configuration.
    public init(host: String = "127.0.0.1", port: Int = 8080, maxBodyBytes: Int = 16 << 20, backgroundServices: Bool = true) {
        self.host = host
        self.port = port
        self.maxBodyBytes = maxBodyBytes
        self.backgroundServices = backgroundServices
    }
}

/// Builds the application: the same function serves `smarketing serve` and the tests.
public func buildApplication(
    configuration: ServerConfiguration,
    store: any FunnelStore,
    clock: any WorkspaceClock,
    logger: Logger
) -> some ApplicationProtocol {
    let router = Router(context: AppRequestContext.self)
    router.get("/healthz") { _, _ in RecordJSON.response(.ok, "{\"status\":\"ok\"}") }
    // Ready when the database answers a read within two seconds and holds the schema this build
    // knows (a newer one means another instance was upgraded first).
    router.get("/readyz") { _, _ in
        let started = DispatchTime.now().uptimeNanoseconds
        do {
            let schema = try await withThrowingTaskGroup(of: (Int, Int)?.self) { group in
                group.addTask { try await store.schemaVersions() }
                group.addTask {
                    try await Task.sleep(for: .seconds(2))
                    return nil
                }
                let first = try await group.next() ?? nil
                group.cancelAll()
                return first
            }
            guard let (applied, known) = schema else {
                throw Problem(.serviceUnavailable, "the database did not answer within 2 s")
            }
            guard applied == known else {
                throw Problem(.serviceUnavailable, "the database's schema has \(applied) migrations; this build knows \(known) (migrate, or run the same version everywhere)")
            }
            let ms = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e6
            return RecordJSON.response(.ok, "{\"status\":\"ready\",\"database\":\"ok\",\"migrations\":\(applied),\"ms\":\(String(format: "%.1f", ms))}")
        } catch let p as Problem {
            throw p
        } catch {
            throw Problem(.serviceUnavailable, "the database is not reachable: \(String(describing: error).prefix(200))")
        }
    }
    router.get("/openapi.json") { _, _ in RecordJSON.response(.ok, OpenAPIDocument.json) }
    let metrics = configuration.metrics
    metrics.listen(to: store.telemetry)
    // The exposition reads the queues now (a failing database reads as smarketing_database_up 0).
    let metricsGroup = router.group().add(middleware: AuthMiddleware(store: store, cache: TokenCache(), limiter: nil))
    metricsGroup.get("/metrics") { _, _ in
        let started = ContinuousClock.now
        let q = try? await store.queueStats(now: clock.now())
        let text = metrics.exposition(q, connections: store.telemetry.connections, now: clock.now(), database: q == nil ? nil : ContinuousClock.now - started)
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
    let tokenCache = TokenCache()
    var handlers = APIHandlers(
        store: store,
        clock: clock,
        committer: IngestCommitter(store: store, clock: clock),
        maxBodyBytes: configuration.maxBodyBytes,
        tokenCache: tokenCache
    )
    handlers.metrics = metrics
    handlers.allowPrivateURLs = configuration.allowPrivateURLs
    var services: [any Service] = []
    if let box = configuration.secretBox {
        let connections = ConnectionService(store: store, box: box, clock: clock)
        let scheduler = SyncScheduler(service: connections, logger: logger)
        handlers.connections = connections
        // Without syncs (a fuzz run, a staging copy) nothing calls a vendor: test and sync
        // answer 503, webhooks are verified and recorded only.
        let syncing = configuration.syncConnections ? scheduler : nil
        handlers.scheduler = syncing
        if configuration.backgroundServices && configuration.syncConnections { services.append(scheduler) }
        let hooks = InboundHookHandler(service: connections, scheduler: syncing, publicURL: configuration.publicURL, maxBodyBytes: configuration.maxBodyBytes)
        router.post("/hooks/{name}") { request, context in try await hooks.handle(request, context) }
    }
    let api = handlers
    let web = WebApp(store: store, clock: clock, api: api, secureCookies: configuration.secureCookies)
    web.register(on: router)
    let group = router.group().add(middleware: AuthMiddleware(store: store, cache: tokenCache, limiter: RateLimiter(configuration.tokenRateLimit)))
    for route in APIRoute.all {
        group.on(RouterPath(route.path), method: route.method) { request, context in
            try await api.handle(route, request, context)
        }
    }
    if configuration.backgroundServices {
        // The default dashboard's first render computes attribution for nine periods (seconds on
        // a large workspace): do it while the server starts, not while the first person waits.
        Task.detached(priority: .background) { _ = try? await web.dashboardLive(web.dashboardQuery(Parameters(), try await web.cache.workspaceSettings(web.store))) }
        services.append(SLABreachService(store: store, clock: clock, interval: configuration.slaInterval, logger: logger, metrics: metrics))
        services.append(RetentionService(store: store, clock: clock, connections: handlers.connections, logger: logger))
        services.append(StorageHousekeeping(store: store, clock: clock, logger: logger))
        if configuration.deliverWebhooks {
            services.append(
                WebhookDispatcher(
                    store: store, clock: clock, interval: configuration.webhookInterval, logger: logger,
                    boxes: configuration.secretBox.map { [$0] } ?? [], allowPrivateURLs: configuration.allowPrivateURLs
                )
            )
        }
    }
    return Application(
        responder: ProblemResponder(
            inner: router.buildResponder(),
            metrics: metrics,
            addressLimiter: RateLimiter(configuration.addressRateLimit),
            strictTransport: configuration.secureCookies
        ),
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "smarketing"),
        services: services,
        logger: logger
    )
}
