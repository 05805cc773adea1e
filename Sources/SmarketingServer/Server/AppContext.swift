import Hummingbird
import SmarketingStore

/// The request context: who is calling, once authenticated, and from where.
public struct AppRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The authenticated caller; nil before the auth middleware ran.
    public var actor: Actor?
    /// The client's IP address (for the sign-in rate limit), when the channel knows it.
    public var remoteAddress: String?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        actor = nil
        remoteAddress = source.channel.remoteAddress?.ipAddress
    }

    /// The caller, or 401.
    func requireActor() throws -> Actor {
        guard let actor else { throw Problem(.unauthorized, "authentication required") }
        return actor
    }
}
