import Foundation
import SmarketingConnectors
import SmarketingCore
import SmarketingStore
import Testing

@Suite("Store conformance: consent (subscription status)")
struct ConsentConformanceTests {
    static func event(_ id: String, _ type: String, _ contact: String, at seconds: Int64) -> Result<IncomingEvent, EventRejection> {
        .success(IncomingEvent(id: id, type: type, occurredAt: Timestamp(seconds: seconds), contact: .id(contact)))
    }

    @Test("an unsubscribe event sets the status, the later statement stands, users set it, merges keep the later one, webhooks carry it, erasure removes it", arguments: Backend.allCases)
    func consent(backend: Backend) async throws {
        let sut = try await backend.makeRoles()
        let store = sut.store
        try await seed(store)
        #expect(try await store.consent(contactID: "c1") == nil)
        await #expect(throws: StoreError.notFound(.contacts, "nobody")) { _ = try await store.consent(contactID: "nobody") }
        _ = try await store.createWebhook(url: "https://hooks.example/x", events: ["*"], format: "json", secret: "s3cret-s3cret-s3cret", actor: tester, at: t0)

        // An unsubscribe event; a subscribe that happened earlier but arrives later does not undo it.
        let base: Int64 = 1_767_300_000
        _ = try await store.ingest([IngestBatch(events: [Self.event("u1", "unsubscribe", "c1", at: base + 100)], atomic: true, actor: tester)], at: t0)
        _ = try await store.ingest([IngestBatch(events: [Self.event("s0", "subscribe", "c1", at: base + 50)], atomic: true, actor: tester)], at: t0)
        #expect(try await store.consent(contactID: "c1") == ContactConsent(contactID: "c1", status: .unsubscribed, source: "event:u1", at: Timestamp(seconds: base + 100)))

        // A user says otherwise later: it stands, audited.
        let set = try await store.setConsent(contactID: "c1", status: .subscribed, source: "user:tester", actor: tester, at: Timestamp(seconds: base + 200))
        #expect(set.status == .subscribed && set.source == "user:tester")
        #expect(try await store.audit(limit: 5, before: nil).contains { $0.action == "consent" })
        await #expect(throws: StoreError.self) { _ = try await store.setConsent(contactID: "nobody", status: .subscribed, source: "x", actor: tester, at: t0) }

        // The list filters by status and pages by contact id.
        _ = try await store.ingest([IngestBatch(events: [Self.event("u2", "unsubscribe", "c2", at: base + 300)], atomic: true, actor: tester)], at: t0)
        #expect(try await store.consents(status: .unsubscribed, after: nil, limit: 10).map(\.contactID) == ["c2"])
        #expect(try await store.consents(status: nil, after: nil, limit: 10).map(\.contactID) == ["c1", "c2"])
        #expect(try await store.consents(status: nil, after: "c1", limit: 10).map(\.contactID) == ["c2"])

        // Webhook envelopes about a contact carry its status.
        let due = try await store.dueDeliveries(now: Timestamp(seconds: 4_000_000_000), perSubscription: 500)
        _ = try await store.update(.contacts, id: "c2", fields: ["lifecycle_stage": .text("sql")], actor: tester, at: Timestamp(seconds: base + 400))
        let after = try await store.dueDeliveries(now: Timestamp(seconds: 4_000_000_000), perSubscription: 500)
        #expect(after.count > due.count)
        #expect(after.filter { $0.subject == "c2" }.allSatisfy { $0.consent == "unsubscribed" } && after.contains { $0.subject == "c2" })

        // Merging c1 (subscribed at +200) into c2 (unsubscribed at +300): the later stands on c2.
        _ = try await store.mergeContacts(keep: "c2", duplicate: "c1", actor: tester, at: Timestamp(seconds: base + 500))
        #expect(try await store.consent(contactID: "c2")?.status == .unsubscribed)
        #expect(try await store.consents(status: nil, after: nil, limit: 10).map(\.contactID) == ["c2"])

        // An erasure removes the status with the rest.
        _ = try await store.eraseContact(id: "c2", reason: "Art. 17", actor: tester, at: Timestamp(seconds: base + 600))
        #expect(try await store.consent(contactID: "c2") == nil)
    }
}
