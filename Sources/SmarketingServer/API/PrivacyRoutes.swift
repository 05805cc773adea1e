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
        case .retention:
            let months = request.uri.queryParameters.get("months").flatMap { Int($0) }
            let report = try await RetentionRun.run(store, months: months, now: clock.now(), dryRun: true, actor: actor, connections: nil)
            return try json(.ok, report)
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

    /// A contact's subscription status, setting it, and the list by status.
    func consentRoute(_ route: APIRoute, _ request: Request, _ context: AppRequestContext, _ actor: Actor) async throws -> Response {
        struct One: ExplicitNullEncodable {
            var contactId: String
            var status: String?
            var source: String?
            var at: Timestamp?
            init(_ id: String, _ c: ContactConsent?) {
                contactId = id
                status = c?.status.rawValue
                source = c?.source
                at = c?.at
            }
        }
        switch route.kind {
        case .contactConsent:
            let id = try pathID(context)
            return try json(.ok, One(id, try await store.consent(contactID: id)))
        case .contactConsentSet:
            let id = try pathID(context)
            let object = try jsonObject(try await body(request))
            guard let status = object["status"]?.string.flatMap(SubscriptionStatus.init(rawValue:)) else {
                throw Problem(.unprocessableContent, "send {\"status\": \"subscribed\" or \"unsubscribed\", \"source\": \"…\"}")
            }
            let source = try Consent.source(object["source"]?.string, fallback: "user:" + actor.userID).mapError { Problem(.unprocessableContent, "source: " + $0.description) }.get()
            return try json(.ok, One(id, try await store.setConsent(contactID: id, status: status, source: source, actor: actor, at: clock.now())))
        default:
            let q = request.uri.queryParameters
            let limit = max(1, min(Int(q.get("limit") ?? "") ?? 100, 10_000))
            let status = q.get("status").flatMap(SubscriptionStatus.init(rawValue:))
            let rows = try await store.consents(status: status, after: q.get("after"), limit: limit)
            struct Page: ExplicitNullEncodable {
                var data: [ContactConsent]
                var nextAfter: String?
            }
            return try json(.ok, Page(data: rows, nextAfter: rows.count == limit ? rows.last?.contactID : nil))
        }
    }
}
