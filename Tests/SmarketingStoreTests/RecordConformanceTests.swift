import Foundation
import SmarketingCore
import SmarketingStore
import Testing

@Suite("Store conformance: records")
struct RecordConformanceTests {
    @Test("create, read, update, delete with conflicts and references", arguments: Backend.allCases)
    func crud(backend: Backend) async throws {
        let sut = try await backend.makeRoles()
        let store = sut.store
        try await seed(store)
        let c1 = try #require(try await store.get(.contacts, id: "c1"))
        #expect(c1["email"] == .text("Anna@Acme.example"))
        #expect(c1["created_at"] == ts("2026-01-01T00:00:00Z"))
        await #expect(throws: StoreError.self) {
            try await store.create(record(.campaigns, ["id": .text("cmp1"), "name": .text("x"), "channel": .text("y")]), actor: tester, at: t0)
        }
        await #expect(throws: StoreError.reference("account_id \"nope\" names no accounts record")) {
            try await store.create(
                record(.contacts, ["id": .text("c9"), "email": .text("x@y.de"), "created_at": ts("2026-01-01T00:00:00Z"), "account_id": .text("nope")]),
                actor: tester,
                at: t0
            )
        }
        let updated = try await store.update(.contacts, id: "c1", fields: ["title": .text("CMO"), "first_name": .text("Anna")], actor: tester, at: t0)
        #expect(updated["title"] == .text("CMO"))
        #expect(try await store.get(.contacts, id: "c1")?["title"] == .text("CMO"))
        await #expect(throws: StoreError.notFound(.contacts, "zz")) { _ = try await store.update(.contacts, id: "zz", fields: [:], actor: tester, at: t0) }
        await #expect(throws: StoreError.self) { try await store.delete(.accounts, id: "a1", actor: tester, at: t0) }
        try await store.delete(.contacts, id: "c2", actor: tester, at: t0)
        #expect(try await store.get(.contacts, id: "c2") == nil)
        // Records without their own id are addressed by their key.
        try await store.create(
            record(
                .costs,
                ["date": .date(LocalDate(year: 2026, month: 1, day: 5)), "category": .text("marketing"), "amount": .number(99.5), "campaign_id": .text("cmp1")]
            ),
            actor: tester,
            at: t0
        )
        let cost = try #require(try await store.get(.costs, id: "2026-01-05|marketing|cmp1"))
        #expect(cost["amount"] == .number(99.5))
        await #expect(throws: StoreError.self) {
            _ = try await store.update(.costs, id: "2026-01-05|marketing|cmp1", fields: ["category": .text("sales")], actor: tester, at: t0)
        }
        // Unique (source, external_id) and user emails.
        _ = try await store.update(.accounts, id: "a1", fields: ["source": .text("hubspot"), "external_id": .text("42")], actor: tester, at: t0)
        await #expect(throws: StoreError.self) {
            try await store.create(
                record(.accounts, ["id": .text("a2"), "name": .text("B"), "source": .text("hubspot"), "external_id": .text("42")]),
                actor: tester,
                at: t0
            )
        }
        await #expect(throws: StoreError.self) {
            try await store.create(record(.users, ["id": .text("u2"), "email": .text("REP@us.example")]), actor: tester, at: t0)
        }
        // Every change is in the audit log.
        let audit = try await store.audit(limit: 100, before: nil)
        #expect(audit.contains { $0.action == "update" && $0.recordID == "c1" && $0.detail.contains("CMO") })
        #expect(audit.contains { $0.action == "delete" && $0.recordID == "c2" })
    }

    @Test("lists filter, search, sort and page without gaps or repeats", arguments: Backend.allCases)
    func listing(backend: Backend) async throws {
        let sut = try await backend.makeRoles()
        let store = sut.store
        try await seed(store)
        for i in 0..<57 {
            try await store.create(
                record(
                    .contacts,
                    [
                        "id": .text(String(format: "p%03d", i)), "email": .text("p\(i)@acme.example"), "account_id": .text("a1"),
                        "created_at": .timestamp(Timestamp(seconds: 1_767_225_600 + Int64((i * 37) % 57) * 3600)),
                        "lifecycle_stage": .text(i % 3 == 0 ? "mql" : "lead"), "owner_id": i % 2 == 0 ? .text("u1") : .null,
                    ]
                ),
                actor: tester,
                at: t0
            )
        }
        for (sort, desc) in [("id", false), ("created_at", false), ("created_at", true), ("owner_id", false), ("email", true)] {
            var q = ListQuery()
            q.limit = 10
            q.sort = sort
            q.descending = desc
            var seen: [String] = []
            while true {
                let page = try await store.list(.contacts, q)
                seen += page.records.map(\.id)
                guard let next = page.nextCursor else { break }
                q.cursor = next
            }
            #expect(seen.count == 59 && Set(seen).count == 59, "sort \(sort) desc \(desc)")
        }
        var q = ListQuery()
        q.equals = ["lifecycle_stage": .text("mql")]
        q.limit = 1000
        #expect(try await store.list(.contacts, q).records.count == 19 + 1)
        q.equals = ["owner_id": .text("u1"), "lifecycle_stage": .text("mql")]
        #expect(try await store.list(.contacts, q).records.count == 10)
        q.equals = [:]
        q.search = "ANNA"
        #expect(try await store.list(.contacts, q).records.map(\.id) == ["c1"])
        q.search = "acme"  // the company name finds its people
        #expect(try await store.list(.contacts, q).records.count == 58)
        q.search = nil
        q.from = ts("2026-01-01T00:00:00Z")
        q.to = ts("2026-01-01T10:00:00Z")
        let inRange = try await store.list(.contacts, q).records
        #expect(!inRange.isEmpty && inRange.allSatisfy { r in r["created_at"].timestamp!.milliseconds < 1_767_261_600_000 })
        await #expect(throws: StoreError.self) {
            var bad = ListQuery()
            bad.cursor = "garbage"
            _ = try await store.list(.contacts, bad)
        }
        await #expect(throws: StoreError.self) {
            var bad = ListQuery()
            bad.sort = "nope"
            _ = try await store.list(.contacts, bad)
        }
    }
}
