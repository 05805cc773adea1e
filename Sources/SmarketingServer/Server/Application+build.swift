import Foundation
import HTTPTypes
import Hummingbird
import Logging
import SmarketingCore
import SmarketingStore

/// How the server runs.
public struct ServerConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    /// Largest request body accepted (413 beyond).
    public var maxBodyBytes = 16 << 20

    /// Creates a configuration.
    public init(host: String = "127.0.0.1", port: Int = 8080, maxBodyBytes: Int = 16 << 20) {
        self.host = host
        self.port = port
        self.maxBodyBytes = maxBodyBytes
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
    let api = router.group().add(middleware: AuthMiddleware(store: store, cache: tokenCache))
    for route in APIRoute.all {
        api.on(RouterPath(route.path), method: route.method) { request, context in
            try await handlers.handle(route, request, context)
        }
    }
    return Application(
        responder: ProblemResponder(inner: router.buildResponder()),
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "smarketing"),
        logger: logger
    )
}
