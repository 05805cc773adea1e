import Foundation
import SmarketingConnectors
import SmarketingCore
import SmarketingStore
import Testing

@Suite("Store conformance: bundles")
struct BundleConformanceTests {
    static func tempDir(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID())").path
    }

    static func importDir(_ store: any RoleStores, _ dir: String, skipInvalid: Bool = false) async throws -> ImportReport {
        try await store.importRows(try Bundle.open(dir), options: ImportOptions(skipInvalid: skipInvalid), actor: tester, at: t0) { _ in }
    }

    @Test("import → export → import is lossless and re-import is idempotent", arguments: Backend.allCases)
    func roundTrip(backend: Backend) async throws {
        let demo = Self.tempDir("demo")
        let out1 = Self.tempDir("out1")
        let out2 = Self.tempDir("out2")
        defer { for d in [demo, out1, out2] { try? FileManager.default.removeItem(atPath: d) } }
        _ = try DemoWorkspace(leads: 1500, seed: 3).write(to: demo)
        let a = try await backend.makeRoles()
        let b = try await backend.makeRoles()
        let first = try await Self.importDir(a.store, demo)
        #expect(first.committed && first.problems.isEmpty)
        // The demo holds people twice (same email up to case and spaces): they become one.
        #expect(first.mergedContacts > 0)
        #expect(first.files.allSatisfy { $0.rejected == 0 })
        // Every row is stored but the merged contacts and the deal roles the two records of
        // one person both had (the merge keeps one role per person and deal).
        #expect(first.files.allSatisfy {
            $0.file == "contacts.csv" ? $0.inserted == $0.rows - first.mergedContacts && $0.mergedAway == first.mergedContacts
                : $0.file == "opportunity_contacts.csv" ? $0.inserted <= $0.rows : $0.inserted == $0.rows
        }, "\(first.files)")
        let again = try await Self.importDir(a.store, demo)
        #expect(again.mergedContacts == 0)
        #expect(
            again.files.allSatisfy { $0.unchanged + $0.mergedAway == $0.rows && $0.inserted == 0 && $0.updated == 0 },
            "\(again.files)"
        )
        _ = try await Bundle.export(from: a.store, to: out1)
        let second = try await Self.importDir(b.store, out1)
        #expect(second.committed)
        _ = try await Bundle.export(from: b.store, to: out2)
        for r in Resource.allCases {
            let x = try String(contentsOfFile: out1 + "/" + r.fileName, encoding: .utf8)
            let y = try String(contentsOfFile: out2 + "/" + r.fileName, encoding: .utf8)
            #expect(x == y, "\(r.fileName) differs after a round trip")
        }
        // The exported bundle imported into the original changes nothing.
        let back = try await Self.importDir(a.store, out1)
        #expect(back.files.allSatisfy { $0.unchanged == $0.rows }, "\(back.files)")
        for r in Resource.allCases { #expect(try await a.store.count(r) == (try await b.store.count(r))) }
    }

    @Test("import gives one record per person: same-email contacts merge, audited, and stay merged", arguments: Backend.allCases)
    func oneRecordPerPerson(backend: Backend) async throws {
        let dir = Self.tempDir("dups")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let sut = try await backend.makeRoles()
        try "id,email,created_at,title,phone\nc1,Anna@Acme.example,2026-01-02T00:00:00Z,CEO,\nc2, anna@acme.example ,2026-01-01T00:00:00Z,,+49 1\nc3,bob@acme.example,2026-01-01T00:00:00Z,,\n"
            .write(toFile: dir + "/contacts.csv", atomically: true, encoding: .utf8)
        try "id,contact_id,occurred_at,type\nt1,c1,2026-01-03T00:00:00Z,page_view\nt2,c2,2026-01-04T00:00:00Z,email_click\n"
            .write(toFile: dir + "/touchpoints.csv", atomically: true, encoding: .utf8)
        let first = try await Self.importDir(sut.store, dir)
        #expect(first.committed && first.mergedContacts == 1)
        #expect(try await sut.store.count(.contacts) == 2)
        // The earliest created (c2) is kept; it takes c1's title; both touches are on it.
        let kept = try #require(try await sut.store.get(.contacts, id: "c2"))
        #expect(kept["title"] == .text("CEO") && kept["phone"] == .text("+49 1"))
        var q = ListQuery()
        q.equals["contact_id"] = .text("c2")
        #expect(try await sut.store.list(.touchpoints, q).records.count == 2)
        let audit = try await sut.store.audit(limit: 20, before: nil)
        #expect(audit.contains { $0.action == "merge" && $0.recordID == "c2" && $0.detail.contains("same email anna@acme.example") })
        // Importing the same bundle again changes nothing and keeps one record.
        let again = try await Self.importDir(sut.store, dir)
        #expect(again.committed && again.mergedContacts == 0)
        #expect(try await sut.store.count(.contacts) == 2)
        #expect(again.files.allSatisfy { $0.inserted == 0 && $0.updated == 0 }, "\(again.files)")
        #expect(try await sut.store.list(.touchpoints, q).records.count == 2)
        #expect(try await sut.store.duplicateContacts(limit: 10).filter { $0.reason.hasPrefix("same email") }.isEmpty)
    }

    @Test("a changed row counts as updated", arguments: Backend.allCases)
    func updates(backend: Backend) async throws {
        let dir = Self.tempDir("upd")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let sut = try await backend.makeRoles()
        try "id,email,created_at\nc1,a@b.example,2026-01-01T00:00:00Z\nc2,b@b.example,2026-01-01T00:00:00Z\n".write(
            toFile: dir + "/contacts.csv",
            atomically: true,
            encoding: .utf8
        )
        _ = try await Self.importDir(sut.store, dir)
        try
            "id,email,created_at,title\nc1,a@b.example,2026-01-01T00:00:00Z,CEO\nc2,b@b.example,2026-01-01T01:00:00+01:00,\nc3,c@b.example,2026-01-01T00:00:00Z,\n"
            .write(toFile: dir + "/contacts.csv", atomically: true, encoding: .utf8)
        let r = try await Self.importDir(sut.store, dir)
        let s = try #require(r.files.first)
        #expect((s.inserted, s.updated, s.unchanged) == (1, 1, 1))
    }

    @Test("repeated cost lines of one date, category and campaign add up; re-importing the bundle changes nothing", arguments: Backend.allCases)
    func repeatedCostLines(backend: Backend) async throws {
        let dir = Self.tempDir("costs")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try "id,email,created_at\nc1,a@b.example,2026-01-01T00:00:00Z\n".write(toFile: dir + "/contacts.csv", atomically: true, encoding: .utf8)
        try "id,name,channel\ncmp1,Spring,paid_search\n".write(toFile: dir + "/campaigns.csv", atomically: true, encoding: .utf8)
        // Three ad sets of one day (0.1 + 0.2 + 100 is exactly 100.3), an invoice without a
        // campaign twice and its credit note, a line of another day, and a sales cost on the
        // same day.
        try """
        date,category,amount,campaign_id
        2026-01-05,marketing,0.1,cmp1
        2026-01-05,marketing,0.2,cmp1
        2026-01-06,marketing,40,cmp1
        2026-01-05,marketing,100,cmp1
        2026-01-05,marketing,7.5,
        2026-01-05,marketing,2.5,
        2026-01-05,sales,3,cmp1
        2026-01-05,marketing,-2.5,

        """.write(toFile: dir + "/costs.csv", atomically: true, encoding: .utf8)
        let sut = try await backend.makeRoles()
        let first = try await Self.importDir(sut.store, dir)
        #expect(first.committed && first.problems.isEmpty, "\(first.problems)")
        let costs = try #require(first.files.first { $0.file == "costs.csv" })
        #expect((costs.rows, costs.inserted, costs.rejected) == (4, 4, 0))
        #expect(costs.warnings.contains("costs.csv: 4 lines repeat the date, category, campaign_id of an earlier line; their amounts are added to it"), "\(costs.warnings)")
        func amount(_ id: String) async throws -> FieldValue? { try await sut.store.get(.costs, id: id)?["amount"] }
        #expect(try await amount("2026-01-05|marketing|cmp1") == .number(100.3))
        #expect(try await amount("2026-01-05|marketing|") == .number(7.5))
        #expect(try await amount("2026-01-06|marketing|cmp1") == .number(40))
        #expect(try await amount("2026-01-05|sales|cmp1") == .number(3))
        #expect(try await sut.store.count(.costs) == 4)
        let again = try await Self.importDir(sut.store, dir)
        let second = try #require(again.files.first { $0.file == "costs.csv" })
        #expect(again.committed && (second.inserted, second.updated, second.unchanged) == (0, 0, 4))
        #expect(try await sut.store.count(.costs) == 4)
        #expect(try await sut.store.verifyKPIs().mismatches.isEmpty)

        // A sum beyond the amount's range is a problem of the first line, naming the others.
        try "date,category,amount,campaign_id\n2026-02-01,marketing,600000000000,cmp1\n2026-02-01,marketing,600000000000,cmp1\n".write(
            toFile: dir + "/costs.csv",
            atomically: true,
            encoding: .utf8
        )
        let tooMuch = try await Self.importDir(sut.store, dir)
        #expect(!tooMuch.committed)
        #expect(tooMuch.problems.map(\.description).contains { $0.hasPrefix("costs.csv:2:3 (amount): the amounts of lines 2, 3 (one date, category, campaign_id) sum to 1200000000000") }, "\(tooMuch.problems)")

        // Credit notes beyond the spend they correct: a negative sum is refused, naming the lines;
        // so is a lone negative line, with the amount's own message. Nothing is written.
        try "date,category,amount,campaign_id\n2026-03-01,marketing,5,cmp1\n2026-03-02,marketing,-1,cmp1\n2026-03-01,marketing,-7,cmp1\n".write(
            toFile: dir + "/costs.csv",
            atomically: true,
            encoding: .utf8
        )
        let negative = try await Self.importDir(sut.store, dir)
        #expect(!negative.committed)
        let described = negative.problems.map(\.description)
        #expect(described.contains { $0.hasPrefix("costs.csv:2:3 (amount): the amounts of lines 2, 4 (one date, category, campaign_id) sum to -2, which") }, "\(described)")
        #expect(described.contains { $0.hasPrefix("costs.csv:3:3 (amount): is outside the allowed range 0–1000000000000") }, "\(described)")
        #expect(try await sut.store.count(.costs) == 4)
    }

    @Test("a bundle with any problem imports nothing and names every problem", arguments: Backend.allCases)
    func allOrNothing(backend: Backend) async throws {
        let dir = Self.tempDir("bad")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try "id,name,channel\ncmp1,Spring,email\n".write(toFile: dir + "/campaigns.csv", atomically: true, encoding: .utf8)
        try """
        id,email,created_at,source_campaign_id
        c1,a@b.example,2026-01-01T00:00:00Z,cmp1
        c2,not-an-email,2026-01-01T00:00:00Z,
        c3,c@b.example,2026-01-01T00:00:00Z,cmp-missing
        c1,d@b.example,2026-01-01T00:00:00Z,
        c5,"quoted, with comma"@b.example,2026-01-01T00:00:00Z,

        """.write(toFile: dir + "/contacts.csv", atomically: true, encoding: .utf8)
        try "id,contact_id,occurred_at,type\nt1,c1,2026-01-02T00:00:00Z,page_view\nt2,c-ghost,2026-01-02T00:00:00Z,page_view\n".write(
            toFile: dir + "/touchpoints.csv",
            atomically: true,
            encoding: .utf8
        )
        let sut = try await backend.makeRoles()
        let r = try await Self.importDir(sut.store, dir)
        #expect(!r.committed)
        let described = r.problems.map(\.description)
        #expect(described.contains("contacts.csv:3:2 (email): value \"not-an-email\" is not an email address"))
        #expect(described.contains("contacts.csv:4:4 (source_campaign_id): \"cmp-missing\" names no campaigns record (in this bundle or the database)"))
        #expect(described.contains("contacts.csv:5:1 (id): id \"c1\" appears more than once in the file"))
        #expect(described.contains { $0.hasPrefix("contacts.csv:6:") })
        #expect(described.contains("touchpoints.csv:3:2 (contact_id): \"c-ghost\" names no contacts record (in this bundle or the database)"))
        for res in Resource.allCases { #expect(try await sut.store.count(res) == 0) }
        // --skip-invalid keeps the valid rows and reports the rest.
        let partial = try await Self.importDir(sut.store, dir, skipInvalid: true)
        #expect(partial.committed)
        #expect(try await sut.store.count(.contacts) == 1)
        #expect(try await sut.store.count(.touchpoints) == 1)
        #expect(try await sut.store.count(.campaigns) == 1)
        #expect(partial.rejectedRows.count == r.problems.count)
        #expect(partial.files.first { $0.file == "contacts.csv" }?.rejected == 4)
    }

    @Test("imported became_*_at times are kept as the importer's history, once, never re-derived", arguments: Backend.allCases)
    func importedHistory(backend: Backend) async throws {
        let dir = Self.tempDir("history")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try """
        id,email,created_at,lifecycle_stage,became_lead_at,became_mql_at,became_sal_at,recycled_at,recycle_reason
        c1,a@x.example,2026-01-01T00:00:00Z,recycled,2026-01-01T00:00:00Z,2026-01-05T00:00:00Z,2026-01-06T00:00:00Z,2026-02-01T00:00:00Z,timing
        c2,b@y.example,2026-01-02T00:00:00Z,lead,2026-01-02T00:00:00Z,,,,

        """.write(toFile: dir + "/contacts.csv", atomically: true, encoding: .utf8)
        let sut = try await backend.makeRoles()
        #expect(try await Self.importDir(sut.store, dir).committed)
        #expect(try await Self.importDir(sut.store, dir).committed)  // again: no second copy
        let c1 = try await sut.store.transitions(contactID: "c1")
        #expect(c1.map(\.to) == ["lead", "mql", "sal", "recycled"])
        #expect(c1.map(\.from) == [nil, "lead", "mql", "sal"])
        #expect(c1.allSatisfy { $0.actor == "import" } && c1.last?.reason == "timing")
        #expect(c1[1].at == (try Timestamp.parse("2026-01-05T00:00:00Z").get()))
        #expect(try await sut.store.transitions(contactID: "c2").map(\.to) == ["lead"])
    }
}
