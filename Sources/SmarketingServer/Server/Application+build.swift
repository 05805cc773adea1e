import Foundation
import HTTPTypes
import Hummingbird
import Logging
import ServiceLifecycle
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
    router.get("/openapi.json") { _, _ in RecordJSON.response(.ok, OpenAPIDocument.json) }
    let tokenCache = TokenCache()
    let handlers = APIHandlers(
        store: store,
        clock: clock,
        committer: IngestCommitter(store: store, clock: clock),
        maxBodyBytes: configuration.maxBodyBytes,
        tokenCache: tokenCache
    )
    let web = WebApp(store: store, clock: clock, api: handlers, secureCookies: configuration.secureCookies)
    web.register(on: router)
    let api = router.group().add(middleware: AuthMiddleware(store: store, cache: tokenCache))
    for route in APIRoute.all {
        api.on(RouterPath(route.path), method: route.method) { request, context in
            try await handlers.handle(route, request, context)
        }
    }
    var services: [any Service] = []
    if configuration.backgroundServices {
        // The default dashboard's first render computes attribution for nine periods (seconds on
        // a large workspace): do it while the server starts, not while the first person waits.
        Task.detached(priority: .background) { _ = try? await web.dashboardLive(web.dashboardQuery(Parameters())) }
        services.append(SLABreachService(store: store, clock: clock, interval: configuration.slaInterval, logger: logger))
        if configuration.deliverWebhooks {
            services.append(WebhookDispatcher(store: store, clock: clock, interval: configuration.webhookInterval, logger: logger))
        }
    }
    return Application(
        responder: ProblemResponder(inner: router.buildResponder()),
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "smarketing"),
        services: services,
        logger: logger
    )
}
