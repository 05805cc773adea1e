import Foundation
import Hummingbird
import SmarketingConnectors
import SmarketingCore
import SmarketingStore

extension APIHandlers {
    /// Erasure, a person's export and the tombstones (admin; the role is checked by the caller).
    func privacyRoute(_ route: APIRoute, _ request: Request, _ context: AppRequestContext, _ actor: Actor) async throws -> Response {
        switch route.kind {
        case .contactErase:
            let id = try pathID(context)
            let object = try jsonObject(try await body(request))
            guard let raw = object["reason"]?.string else { throw Problem(.unprocessableContent, "send {\"reason\": \"why (e.g. Art. 17 request, ticket 4711)\"}") }
            let reason = try Erasure.reason(raw).mapError { Problem(.unprocessableContent, "reason: " + $0.description) }.get()
            let outcome = try await PersonPrivacy.erase(store, contactID: id, reason: reason, actor: actor, at: clock.now(), connections: connections)
            return try json(.ok, outcome)
        case .contactExport:
            let id = try pathID(context)
            guard let doc = try await PersonPrivacy.export(store, contactID: id, at: clock.now()) else { throw StoreError.notFound(.contacts, id) }
            return RecordJSON.response(.ok, doc.compactText)
        default:
            let limit = max(1, min(Int(request.uri.queryParameters.get("limit") ?? "") ?? 100, 10_000))
            struct List: Encodable {
                var erasures: [Tombstone]
                var flagged: [ErasureMatch]
            }
            return try json(.ok, List(erasures: try await store.tombstones(limit: limit), flagged: try await store.erasureMatches(limit: limit)))
        }
    }
}
