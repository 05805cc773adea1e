import Foundation
import SmarketingConnectors
import SmarketingCore
import SmarketingStore
import Synchronization
import Testing

@Suite("Store conformance: erasure and access (GDPR)")
struct PrivacyConformanceTests {
    /// Every text the store holds: each record of each resource and each row of each state table.
    static func allText(_ store: any RoleStores) async throws -> [String] {
        let out = Mutex<[String]>([])
        for r in Resource.allCases {
            try await store.exportRecords(r, chunkSize: 500) { records in
                let texts = records.flatMap { rec in rec.values.compactMap { v -> String? in
                    switch v {
                    case .text(let s), .json(let s): return s
                    default: return nil
                    }
                } }
                out.withLock { $0 += texts }
            }
        }
        for t in StateTable.all {
            try await store.readState(t, chunkSize: 500) { rows in
                let texts = rows.flatMap { $0.compactMap { v -> String? in if case .text(let s) = v { return s } else { return nil } } }
                out.withLock { $0 += texts }
            }
        }
        return out.withLock { $0 }
    }

    struct Person {
        var id: String
        var email: String
        var fullName: String
        var meetingID: Int64
    }

    /// A demo workspace in which one person's address and name are written everywhere a user
    /// or a system can put them: their record, an event's properties, the audit log, a handover
    /// note, a meeting's notes, a webhook's queued payloads.
    static func workspaceWithPerson(_ store: any RoleStores) async throws -> Person {
        let demo = BundleConformanceTests.tempDir("privacy-demo")
        defer { try? FileManager.default.removeItem(atPath: demo) }
        _ = try DemoWorkspace(leads: 200, seed: 7).write(to: demo)
        #expect(try await BundleConformanceTests.importDir(store, demo).committed)
        _ = try await store.createWebhook(url: "http://127.0.0.1:9/hook", events: ["*"], format: "json", secret: "s3cret-s3cret-s3cret", actor: tester, at: t0)
        var q = ListQuery()
        q.limit = 200
        let contacts = try await store.list(.contacts, q).records
        let person = try #require(contacts.first { !$0["first_name"].isNull && !$0["last_name"].isNull && !$0["account_id"].isNull && $0["lifecycle_stage"].text == "lead" })
        let id = person.id
        // A distinctive name and address, so a match in the store can only be this person's.
        let email = "Zelda.Quokkafield+\(id.suffix(4))@Quokka-Example.com"
        let first = "Zelda"
        let last = "Quokkafield"
        _ = try await store.update(
            .contacts, id: id,
            fields: ["email": .text(email), "first_name": .text(first), "last_name": .text(last), "phone": .text("+49 30 1234567"), "title": .text("CFO")],
            actor: tester, at: t0
        )
        let event = IncomingEvent(
            id: "privacy-form-1", type: "form_submission", occurredAt: t0.adding(milliseconds: 1_000), channel: "web",
            properties: #"{"url":"https://quokka.example/demo?email=\#(email)","form":"demo","message":"Hi, Zelda Quokkafield here","utm_source":"newsletter"}"#,
            contact: .email(key: EmailAddress.key(email) ?? "", address: email, details: ContactDetails(firstName: first, lastName: last))
        )
        let results = try await store.ingest([IngestBatch(events: [.success(event)], atomic: true, actor: tester)], at: t0.adding(milliseconds: 1_000))
        #expect(results.first?.committed == true, "\(results)")
        _ = try await store.update(.contacts, id: id, fields: ["lifecycle_stage": .text("mql")], actor: tester, at: t0.adding(milliseconds: 2_000))
        let m = try await store.createMeeting(week: try #require(AgendaWeek.parse("2026-W01")), title: "Weekly sync", attendees: ["u-admin"], actor: tester, at: t0)
        _ = try await store.changeMeeting(id: m.id, MeetingChange(decision: "Call Zelda Quokkafield back", notes: "She wrote from \(email.uppercased())"), actor: tester, at: t0)
        return Person(id: id, email: email, fullName: first + " " + last, meetingID: m.id)
    }

    static func leaks(_ texts: [String], _ p: Person) -> [String] {
        let needles = [p.email.lowercased(), p.fullName.lowercased(), "quokkafield"]
        return texts.filter { t in needles.contains { t.lowercased().contains($0) } }
    }

    @Test("erasing a person removes their data from every table, keeps every KPI, and a later event with their address makes a new, flagged record", arguments: Backend.allCases)
    func erase(backend: Backend) async throws {
        let sut = try await backend.makeRoles()
        let store = sut.store
        let p = try await Self.workspaceWithPerson(store)
        #expect(!Self.leaks(try await Self.allText(store), p).isEmpty, "the scenario wrote the person's data")

        let all = KPIPeriod(from: LocalDate(year: 2020, month: 1, day: 1), to: LocalDate(year: 2030, month: 1, day: 1))
        let query = KPIQuery(period: all, by: [.channel, .campaign, .persona, .segment, .owner, .team])
        let before = try await store.kpis(query)
        let funnelBefore = try await store.kpis(KPIQuery(period: all)).total

        // A reason is required; an unknown contact is 404; nothing is written by either.
        await #expect(throws: StoreError.self) { _ = try await store.eraseContact(id: p.id, reason: "  ", actor: tester, at: t0) }
        await #expect(throws: StoreError.notFound(.contacts, "nobody")) { _ = try await store.eraseContact(id: "nobody", reason: "Art. 17", actor: tester, at: t0) }
        #expect(try await store.tombstones(limit: 10).isEmpty)

        let at = t0.adding(milliseconds: 60_000)
        let report = try await store.eraseContact(id: p.id, reason: "Art. 17 request, ticket 4711", actor: tester, at: at)
        #expect(report.contactID == p.id && report.erasedAt == at)
        #expect(report.changed["contacts"] == 1 && report.changed["touchpoints", default: 0] >= 1 && report.changed["meetings", default: 0] >= 1, "\(report.changed)")
        await #expect(throws: StoreError.conflict("this contact was erased; nothing is left to erase")) {
            _ = try await store.eraseContact(id: p.id, reason: "again", actor: tester, at: at)
        }

        // Nothing names the person any more: records, state, queued payloads, the audit log, meetings.
        let left = Self.leaks(try await Self.allText(store), p)
        #expect(left.isEmpty, "\(left.prefix(5))")
        let meeting = try #require(try await store.meeting(id: p.meetingID))
        #expect(!meeting.notes.lowercased().contains(p.email.lowercased()) && meeting.decisions == ["Call [erased] back"], "\(meeting)")
        let erased = try #require(try await store.get(.contacts, id: p.id))
        #expect(erased["email"].text == Erasure.placeholderEmail(contactID: p.id))
        #expect(erased["first_name"].isNull && erased["phone"].isNull && erased["title"].isNull && !erased["account_id"].isNull)
        // The touch keeps what the touch was (page, form, campaign source), not what was typed.
        let touches = try #require(try await store.personData(contactID: p.id)?.sections.first { $0.name == "touchpoints" }?.rows)
        let form = try #require(touches.first { $0["type"] == .string("form_submission") })
        #expect(form["properties"] == .object(["form": .string("demo"), "utm_source": .string("newsletter")]), "\(form)")

        // Every figure is the same.
        #expect(try await store.kpis(query) == before)
        #expect(try await store.kpis(KPIQuery(period: all)).total == funnelBefore)
        #expect(try await store.verifyKPIs().agrees)

        // The tombstone keeps when, who and why, never the address.
        let tomb = try #require(try await store.tombstones(limit: 10).first)
        #expect(tomb == Tombstone(contactID: p.id, erasedAt: at, actor: "tester", reason: "Art. 17 request, ticket 4711"))
        #expect(try await store.personData(contactID: p.id)?.tombstone == tomb)

        // The same address comes back (an event): a new contact, flagged; the erased one stays erased.
        let again = IncomingEvent(
            id: "privacy-form-2", type: "form_submission", occurredAt: at.adding(milliseconds: 1_000), channel: "web",
            contact: .email(key: EmailAddress.key(p.email) ?? "", address: p.email, details: ContactDetails(firstName: "Zelda"))
        )
        _ = try await store.ingest([IngestBatch(events: [.success(again)], atomic: true, actor: tester)], at: at.adding(milliseconds: 1_000))
        let newID = try #require(try await store.contactID(emailKey: EmailAddress.key(p.email) ?? ""))
        #expect(newID != p.id)
        #expect(try await store.erasureMatches(limit: 10) == [ErasureMatch(contactID: newID, erasedContactID: p.id, erasedAt: at)])
        #expect(try await store.personData(contactID: newID)?.match?.erasedContactID == p.id)
        #expect(try await store.get(.contacts, id: p.id)?["first_name"].isNull == true)
        // A contact created through the API with the address is flagged too (and an unrelated one is not).
        try await store.create(
            record(.contacts, ["id": .text("c-api"), "email": .text(p.email.uppercased()), "created_at": .timestamp(at), "lifecycle_stage": .text("lead")]),
            actor: tester, at: at
        )
        try await store.create(
            record(.contacts, ["id": .text("c-other"), "email": .text("someone@else.example"), "created_at": .timestamp(at), "lifecycle_stage": .text("lead")]),
            actor: tester, at: at
        )
        #expect(Set(try await store.erasureMatches(limit: 10).map(\.contactID)) == [newID, "c-api"])
    }

    @Test("a person's export holds their record, touches, stage history, handovers, events and audit entries", arguments: Backend.allCases)
    func export(backend: Backend) async throws {
        let sut = try await backend.makeRoles()
        let store = sut.store
        let p = try await Self.workspaceWithPerson(store)
        let data = try #require(try await store.personData(contactID: p.id))
        #expect(data.contact["email"].text == p.email && data.tombstone == nil && data.match == nil)
        let sections = Dictionary(uniqueKeysWithValues: data.sections.map { ($0.name, $0.rows) })
        #expect(data.sections.map(\.name) == PersonPrivacy.sections, "the export and its OpenAPI description name the same sections")
        #expect(sections["touchpoints"]?.contains { $0["id"] == .string("privacy-form-1") } == true)
        #expect(sections["lifecycle_transitions"]?.contains { $0["to_stage"] == .string("mql") } == true, "\(sections["lifecycle_transitions"] ?? [])")
        #expect(sections["events"]?.contains { $0["type"] == .string("stage.changed") } == true)
        #expect(sections["audit_log"]?.contains { $0["action"] == .string("update") } == true)
        #expect(try await store.personData(contactID: "nobody") == nil)
    }

    @Test("after an erasure no byte of the SQLite file, its WAL, or a bundle export holds the person's address or name")
    func bytes() async throws {
        let dir = BundleConformanceTests.tempDir("privacy-bytes")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/w.sqlite"
        let store = try SQLiteStore.workspace(path: path)
        let p = try await Self.workspaceWithPerson(store)
        func scan(_ file: String) throws -> [String] {
            guard let data = FileManager.default.contents(atPath: file) else { return [] }
            var found: [String] = []
            for needle in [p.email, p.email.lowercased(), p.email.uppercased(), "Quokkafield", "quokkafield", "QUOKKAFIELD"] {
                if data.range(of: Data(needle.utf8)) != nil { found.append(needle) }
                // UTF-16 too (SQLite may store text so in other databases; ours is UTF-8).
                if let u16 = needle.data(using: .utf16LittleEndian), data.range(of: u16) != nil { found.append(needle + " (UTF-16)") }
            }
            return found
        }
        func files() -> [String] {
            ((try? FileManager.default.subpathsOfDirectory(atPath: dir)) ?? []).map { dir + "/" + $0 }
        }
        #expect(try files().contains { try !scan($0).isEmpty }, "the scenario wrote the person's data to the files")

        _ = try await store.eraseContact(id: p.id, reason: "Art. 17", actor: tester, at: t0.adding(milliseconds: 60_000))
        _ = try await Bundle.export(from: store, to: dir + "/export")
        var leaks: [String: [String]] = [:]
        for f in files() {
            let found = try scan(f)
            if !found.isEmpty { leaks[f] = found }
        }
        #expect(leaks.isEmpty, "\(leaks)")
        #expect(FileManager.default.fileExists(atPath: dir + "/export/contacts.csv"))
    }
}
