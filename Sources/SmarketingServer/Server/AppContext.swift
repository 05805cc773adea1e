import Hummingbird
import SmarketingStore

/// The request context: who is calling, once authenticated.
public struct AppRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The authenticated caller; nil before the auth middleware ran.
    public var actor: Actor?

    public init(source: Source) {
        coreContext = .init(source: source)
        actor = nil
    }

    /// The caller, or 401.
    func requireActor() throws -> Actor {
        guard let actor else { throw Problem(.unauthorized, "authentication required") }
        return actor
    }
}
