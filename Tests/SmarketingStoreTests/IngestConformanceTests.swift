import Foundation
import SmarketingCore
import SmarketingStore
import Testing

@Suite("Store conformance: ingest")
struct IngestConformanceTests {
    @Test("events are accepted once, duplicates are harmless, unknown ids are rejected", arguments: Backend.allCases)
    func basics(backend: Backend) async throws {
        let sut = try await backend.makeRoles()
        let store = sut.store
        try await seed(store)
        let batch = IngestBatch(
            events: [
                event("e1", contact: "c1", campaign: "cmp1"), event("e2", contact: "c1"), event("e1", contact: "c1"), event("e3", contact: "nobody"),
                event("e4", contact: "c1", campaign: "nope"),
            ],
            atomic: false,
            actor: tester
        )
        let r = try await store.ingest([batch], at: t0)[0]
        #expect(r.committed)
        #expect(r.outcomes.map(\.status) == ["accepted", "accepted", "duplicate", "rejected", "rejected"])
        #expect(r.outcomes[3] == .rejected("contact_id \"nobody\" names no contact"))
        let again = try await store.ingest(
            [IngestBatch(events: [event("e1", contact: "c1"), event("e2", contact: "c1")], atomic: true, actor: tester)],
            at: t0
        )[0]
        #expect(again.outcomes.map(\.status) == ["duplicate", "duplicate"])
        #expect(try await store.count(.touchpoints) == 2)
        let tp = try #require(try await store.get(.touchpoints, id: "e1"))
        #expect(tp["campaign_id"] == .text("cmp1") && tp["occurred_at"] == ts("2026-02-01T10:00:00Z"))
    }

    @Test("an atomic batch with a rejected event stores nothing, not even new contacts", arguments: Backend.allCases)
    func atomic(backend: Backend) async throws {
        let sut = try await backend.makeRoles()
        let store = sut.store
        try await seed(store)
        let contactsBefore = try await store.count(.contacts)
        let bad = IngestBatch(
            events: [event("n1", email: "new@fresh.example"), event("n2", contact: "c1"), .failure(EventRejection("malformed"))],
            atomic: true,
            actor: tester
        )
        let good = IngestBatch(events: [event("g1", contact: "c2")], atomic: true, actor: tester)
        let results = try await store.ingest([bad, good], at: t0)
        #expect(!results[0].committed)
        #expect(results[0].outcomes.allSatisfy { $0.status == "rejected" })
        #expect(results[1].committed && results[1].outcomes == [.accepted(contactID: "c2")])
        #expect(try await store.count(.touchpoints) == 1)
        #expect(try await store.count(.contacts) == contactsBefore)
        #expect(try await store.count(.accounts) == 1)
    }

    @Test("emails resolve to one person and one company", arguments: Backend.allCases)
    func identity(backend: Backend) async throws {
        let sut = try await backend.makeRoles()
        let store = sut.store
        try await seed(store)
        let events = [
            event("i1", email: " ANNA@acme.example", at: "2026-02-01T10:00:00Z"),  // existing c1
            event("i2", email: "carl@acme.example", at: "2026-02-01T11:00:00Z"),  // new, joins a1
            event("i3", email: "dora@newco.example", at: "2026-02-01T12:00:00Z", company: "NewCo AG"),  // new + new account
            event("i4", email: "Dora@NewCo.example", at: "2026-02-02T12:00:00Z"),  // same person, same batch
            event("i5", email: "eve@gmail.com", at: "2026-02-03T12:00:00Z", company: "Gmail Inc"),  // free mail: no account
        ]
        let r = try await store.ingest([IngestBatch(events: events, atomic: true, actor: tester)], at: t0)[0]
        #expect(r.committed)
        guard case .accepted(let anna) = r.outcomes[0], case .accepted(let carl) = r.outcomes[1], case .accepted(let dora) = r.outcomes[2],
            case .accepted(let dora2) = r.outcomes[3], case .accepted(let eve) = r.outcomes[4]
        else {
            Issue.record("not all accepted: \(r.outcomes)")
            return
        }
        #expect(anna == "c1")
        #expect(dora == dora2)
        #expect(try await store.get(.contacts, id: carl)?["account_id"] == .text("a1"))
        let doraRecord = try #require(try await store.get(.contacts, id: dora))
        let newAccount = try #require(try await store.get(.accounts, id: doraRecord["account_id"].text ?? ""))
        #expect(newAccount["name"] == .text("NewCo AG") && newAccount["domain"] == .text("newco.example"))
        #expect(doraRecord["lifecycle_stage"] == .text("lead") && doraRecord["created_at"] == ts("2026-02-01T12:00:00Z"))
        #expect(try await store.get(.contacts, id: eve)?["account_id"] == .null)
        #expect(try await store.count(.accounts) == 2)
        // Re-sending a whole batch changes nothing.
        let resend = try await store.ingest([IngestBatch(events: events, atomic: true, actor: tester)], at: t0)[0]
        #expect(resend.outcomes.allSatisfy { $0 == .duplicate })
        #expect(try await store.count(.contacts) == 5)
    }

    @Test("events for a merged-away contact id reach the kept contact", arguments: Backend.allCases)
    func mergedIDs(backend: Backend) async throws {
        let sut = try await backend.makeRoles()
        let store = sut.store
        try await seed(store)
        _ = try await store.mergeContacts(keep: "c1", duplicate: "c2", actor: tester, at: t0)
        let r = try await store.ingest([IngestBatch(events: [event("m1", contact: "c2")], atomic: true, actor: tester)], at: t0)[0]
        #expect(r.outcomes == [.accepted(contactID: "c1")])
    }
}

@Suite("Store conformance: identity and access")
struct IdentityConformanceTests {
    @Test("duplicates are found and merges keep everything", arguments: Backend.allCases)
    func duplicatesAndMerge(backend: Backend) async throws {
        let sut = try await backend.makeRoles()
        let store = sut.store
        try await seed(store)
        try await store.create(
            record(
                .contacts,
                [
                    "id": .text("c1b"), "email": .text(" anna@ACME.example"), "title": .text("CMO"), "created_at": ts("2026-03-01T00:00:00Z"),
                    "became_mql_at": ts("2026-03-02T00:00:00Z"), "lifecycle_stage": .text("mql"),
                ]
            ),
            actor: tester,
            at: t0
        )
        try await store.create(
            record(
                .contacts,
                [
                    "id": .text("c3"), "email": .text("x1@acme.example"), "first_name": .text("Jo"), "last_name": .text("Doe"), "account_id": .text("a1"),
                    "created_at": ts("2026-01-05T00:00:00Z"),
                ]
            ),
            actor: tester,
            at: t0
        )
        try await store.create(
            record(
                .contacts,
                [
                    "id": .text("c4"), "email": .text("x2@acme.example"), "first_name": .text("JO"), "last_name": .text("doe"), "account_id": .text("a1"),
                    "created_at": ts("2026-01-06T00:00:00Z"),
                ]
            ),
            actor: tester,
            at: t0
        )
        let pairs = try await store.duplicateContacts(limit: 10)
        #expect(pairs.contains(DuplicateCandidate(keepID: "c1", duplicateID: "c1b", reason: "same email anna@acme.example")))
        #expect(pairs.contains { $0.keepID == "c3" && $0.duplicateID == "c4" && $0.reason.contains("same name") })
        // Give the duplicate history: touchpoints and a deal role.
        for (id, contact) in [("d1", "c1b"), ("d2", "c1")] {
            try await store.create(
                record(.touchpoints, ["id": .text(id), "contact_id": .text(contact), "occurred_at": ts("2026-02-01T10:00:00Z"), "type": .text("page_view")]),
                actor: tester,
                at: t0
            )
        }
        try await store.create(
            record(
                .opportunities,
                ["id": .text("o1"), "account_id": .text("a1"), "created_at": ts("2026-03-05T00:00:00Z"), "primary_contact_id": .text("c1b")]
            ),
            actor: tester,
            at: t0
        )
        try await store.create(
            record(.opportunityContacts, ["opportunity_id": .text("o1"), "contact_id": .text("c1b"), "role": .text("champion")]),
            actor: tester,
            at: t0
        )
        let kept = try await store.mergeContacts(keep: "c1", duplicate: "c1b", actor: tester, at: t0)
        #expect(kept["title"] == .text("CMO"))
        #expect(kept["first_name"] == .text("Anna"))
        #expect(kept["became_mql_at"] == ts("2026-03-02T00:00:00Z"))
        // The deal moved the duplicate to opportunity; the merge keeps the further stage.
        #expect(kept["lifecycle_stage"] == .text("opportunity"))
        #expect(try await store.get(.contacts, id: "c1b") == nil)
        #expect(try await store.get(.touchpoints, id: "d1")?["contact_id"] == .text("c1"))
        #expect(try await store.get(.opportunities, id: "o1")?["primary_contact_id"] == .text("c1"))
        #expect(try await store.get(.opportunityContacts, id: "o1|c1")?["role"] == .text("champion"))
        let audit = try await store.audit(limit: 5, before: nil)
        #expect(audit.first?.action == "merge" && audit.first!.detail.contains("c1b") && audit.first!.detail.contains("\"touchpoints\":1"))
        await #expect(throws: StoreError.self) { _ = try await store.mergeContacts(keep: "c1", duplicate: "c1", actor: tester, at: t0) }
        await #expect(throws: StoreError.notFound(.contacts, "c1b")) { _ = try await store.mergeContacts(keep: "c1", duplicate: "c1b", actor: tester, at: t0) }
    }

    @Test("tokens resolve while active and stop when revoked", arguments: Backend.allCases)
    func tokens(backend: Backend) async throws {
        let sut = try await backend.makeRoles()
        let store = sut.store
        try await seed(store)
        let id = try await store.createToken(userID: "u1", role: .sales, name: "t", hash: "h1", actor: tester, at: t0)
        #expect(try await store.principal(tokenHash: "h1") == TokenPrincipal(tokenID: id, userID: "u1", role: .sales))
        #expect(try await store.principal(tokenHash: "h2") == nil)
        try await store.revokeToken(id: id, actor: tester, at: t0)
        #expect(try await store.principal(tokenHash: "h1") == nil)
        await #expect(throws: StoreError.self) { _ = try await store.createToken(userID: "ghost", role: .admin, name: "t", hash: "h3", actor: tester, at: t0) }
        try await store.setPasswordHash(userID: "u1", hash: "$2b$hash", actor: tester, at: t0)
        let p = try #require(try await store.passwordHash(emailKey: "rep@us.example"))
        #expect(p.userID == "u1" && p.role == .sales && p.hash == "$2b$hash")
        try await store.setSetting("k", "v1")
        try await store.setSetting("k", "v2")
        #expect(try await store.setting("k") == "v2")
    }
}
