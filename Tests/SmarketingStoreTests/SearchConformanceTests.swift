import Foundation
import SmarketingConnectors
import SmarketingCore
import SmarketingStore
import Testing

/// The text search (the API's `q=`, the web app's lead search) goes through trigram indexes on
/// both backends (FTS5, pg_trgm); what it finds must be exactly what a scan of every record finds,
/// also after renames, deletes and merges, and for texts too short for a trigram.
@Suite("Store conformance: text search")
struct SearchConformanceTests {
    /// ASCII-only case folding, as SQLite's `LIKE` and PostgreSQL's `ILIKE` under the "C"
    /// collation compare.
    static func fold(_ s: String) -> String {
        String(String.UnicodeScalarView(s.unicodeScalars.map { ("A"..."Z").contains($0) ? Unicode.Scalar($0.value + 32) ?? $0 : $0 }))
    }

    static func contains(_ haystack: String?, _ needle: String) -> Bool {
        guard let haystack else { return false }
        return fold(haystack).contains(fold(needle))
    }

    /// Every id the API's list finds for `text`, in id order.
    static func listed(_ store: any FunnelStore, _ text: String) async throws -> [String] {
        var q = ListQuery()
        q.search = text
        q.limit = 40
        var ids: [String] = []
        while true {
            let page = try await store.list(.contacts, q)
            ids += page.records.map(\.id)
            guard let next = page.nextCursor else { return ids }
            q.cursor = next
        }
    }

    @Test("q= and the lead search find exactly what a scan finds, before and after renames, deletes and merges", arguments: Backend.allCases)
    func sameAsScan(backend: Backend) async throws {
        let dir = KPIConformanceTests.tempDir("search")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try DemoWorkspace(leads: 1500, seed: 9).write(to: dir)
        let sut = try await backend.makeRoles()
        try await KPIConformanceTests.importDir(sut.store, dir)
        let store = sut.store
        // People whose names need care: non-ASCII letters, a quote, wildcard characters.
        for (id, first, last, email) in [
            ("s1", "Ärger", "Çelik", "aerger@umlaut.example"),
            ("s2", "Ann \"Nan\"", "O'Brien", "ann.obrien@quote.example"),
            ("s3", "Per%cent", "Under_score", "wild_card@pct.example"),
        ] {
            var c = Record(.contacts, values: Array(repeating: .null, count: Resource.contacts.schema.fields.count))
            c["id"] = .text(id)
            c["email"] = .text(email)
            c["first_name"] = .text(first)
            c["last_name"] = .text(last)
            c["created_at"] = .timestamp(t0)
            try await store.create(c, actor: tester, at: t0)
        }

        func check(_ texts: [String], _ label: String) async throws {
            let contacts = try await WebConformanceTests.everything(store, .contacts)
            let accounts = try await WebConformanceTests.everything(store, .accounts)
            var accountName: [String: String] = [:]
            for a in accounts { accountName[a.id] = a["name"].text }
            for text in texts {
                // The API: first name, last name, email or the company's name contains the text.
                let want = contacts.filter { c in
                    ["first_name", "last_name", "email"].contains { Self.contains(c[$0].text, text) }
                        || Self.contains(c["account_id"].text.flatMap { accountName[$0] }, text)
                }.map(\.id).sorted()
                let got = try await Self.listed(store, text)
                #expect(got == want, "\(backend) \(label) q=\"\(text)\": \(got.count) found, a scan finds \(want.count)")
                // The lead search: the full name or the email key contains the text (lower-cased,
                // without % and _); an address is looked up by its key.
                // A blank text is no search at all.
                let trimmed = text.trimmingCharacters(in: .whitespaces)
                guard !trimmed.contains("@") else { continue }
                let plain = trimmed.lowercased().replacingOccurrences(of: "%", with: "").replacingOccurrences(of: "_", with: "")
                let wantLeads = Set(
                    contacts.filter { c in
                        plain.isEmpty || Self.contains((c["first_name"].text ?? "") + " " + (c["last_name"].text ?? ""), plain)
                            || Self.contains(c["email"].text.flatMap(EmailAddress.key), plain)
                    }.map(\.id)
                )
                var lq = LeadQuery()
                lq.search = text
                let gotLeads = Set(try await WebConformanceTests.allPages(store, lq, now: t0).map(\.id))
                #expect(gotLeads == wantLeads, "\(backend) \(label) lead search \"\(text)\": \(gotLeads.count) found, a scan finds \(wantLeads.count)")
            }
        }

        let contacts = try await WebConformanceTests.everything(store, .contacts)
        let someone = try #require(contacts.first { ($0["last_name"].text ?? "").count >= 5 && $0["account_id"].text != nil })
        let lastName = try #require(someone["last_name"].text)
        let accountID = try #require(someone["account_id"].text)
        let account = try #require(try await store.get(.accounts, id: accountID))
        let company = try #require(account["name"].text)
        let texts = [
            lastName, lastName.uppercased(), String(lastName.prefix(3)), String(lastName.dropFirst().prefix(3)),
            (someone["first_name"].text ?? "") + " " + lastName,  // across first and last name
            company, String(company.prefix(4)).lowercased(),  // the company finds its people
            "yahoo", ".com", ".example", "gmail", "an", "x", "é", "Ärger", "ärger", "Çel", "\"Nan\"", "O'Br", "r%c", "_sc", "%", "_", "  ",
            "zzzqqq",
        ]
        try await check(texts, "after the import")
        // Common texts take the plan that walks the sort index (more candidates than
        // √(page × contacts)); people and companies the one that sorts the candidates.
        #expect(try await Self.listed(store, ".example").count > 600)

        // A rename: the old name is gone, the new one found; a deleted contact is gone.
        _ = try await store.update(.contacts, id: someone.id, fields: ["last_name": .text("Quetzalcoatl")], actor: tester, at: t0)
        try await store.delete(.contacts, id: "s1", actor: tester, at: t0)
        _ = try await store.update(.accounts, id: account.id, fields: ["name": .text("Renamed Holdings")], actor: tester, at: t0)
        // A merge: the duplicate's record is gone, the kept one keeps its name.
        let pair = contacts.filter { $0.id != someone.id && $0["account_id"].text != account.id }.prefix(2)
        let keep = try #require(pair.first)
        let duplicate = try #require(pair.last)
        _ = try await store.mergeContacts(keep: keep.id, duplicate: duplicate.id, actor: tester, at: t0)
        try await check(
            texts + ["Quetzal", "quetzalcoatl", "Renamed Hold", duplicate["email"].text ?? "", keep["last_name"].text ?? "x"],
            "after the changes"
        )
        #expect(try await Self.listed(store, "Quetzalcoatl") == [someone.id])
        #expect(try await Self.listed(store, "Ärger").isEmpty)
    }
}
