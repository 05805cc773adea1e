import Foundation
import SmarketingConnectors
import SmarketingCore
import SmarketingStore
import Testing

@Suite("Store conformance: scoring and lifecycle")
struct ScoringConformanceTests {
    static func exampleModel() throws -> (String, ScoringModel) {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("examples/scoring-model.yaml").path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return (text, try ScoringModelFile.read(text).get())
    }

    /// Accounts, content and contacts of every fit kind.
    func workspace(_ store: any RoleStores, contacts: Int) async throws {
        try await store.create(
            record(.personas, ["id": .text("per-cmo"), "name": .text("CMO"), "rules": .json(#"{"titles":["cmo","vp marketing"]}"#)]),
            actor: tester,
            at: t0
        )
        for (id, industry, employees) in [("a1", "Software", 800), ("a2", "Retail", 40)] {
            try await store.create(
                record(.accounts, ["id": .text(id), "name": .text(id), "industry": .text(industry), "employees": .integer(Int64(employees))]),
                actor: tester,
                at: t0
            )
        }
        try await store.create(
            record(.content, ["id": .text("k1"), "title": .text("ROI"), "type": .text("whitepaper"), "funnel_stage": .text("bofu")]),
            actor: tester,
            at: t0
        )
        let titles = ["CMO", "Head of Growth", "Engineer", "VP Marketing"]
        for i in 0..<contacts {
            var fields: [String: FieldValue] = [
                "id": .text("c\(i)"), "email": .text("p\(i)@x\(i).example"), "title": .text(titles[i % titles.count]),
                "country": .text(i % 3 == 0 ? "DE" : "US"), "created_at": ts("2026-01-05T00:00:00Z"), "lifecycle_stage": .text("lead"),
            ]
            if i % 5 != 4 { fields["account_id"] = .text(i % 2 == 0 ? "a1" : "a2") }
            try await store.create(record(.contacts, fields), actor: tester, at: t0)
        }
    }

    func randomEvents(_ n: Int, contacts: Int, seed: UInt64) -> [Result<IncomingEvent, EventRejection>] {
        var rng = SeededRandom(seed: seed)
        let base = try! Timestamp.parse("2026-02-01T00:00:00Z").get()
        let kinds: [(String, String?)] = [
            ("page_view", "https://x.example/pricing"), ("page_view", "https://x.example/blog/a"), ("page_view", "https://x.example/careers"),
            ("form_submit", nil), ("content_download", nil), ("webinar_attended", nil), ("email_click", nil), ("unsubscribe", nil),
        ]
        return (0..<n).map { i in
            let (type, url) = rng.element(kinds)
            let at = base.adding(milliseconds: Int64(rng.unit() * 40 * 86_400_000))
            var fields = ["id": "e\(i)", "type": type, "occurred_at": at.iso8601, "contact_id": "c\(rng.int(0...(contacts - 1)))"]
            if type == "content_download" { fields["content_id"] = "k1" }
            return EventPayload(fields: fields, properties: url.map { "{\"url\":\"\($0)\"}" }).validate()
        }
    }

    @Test("scores follow every event, survive a restart and equal a full recomputation from history", arguments: Backend.allCases)
    func followAndRecompute(backend: Backend) async throws {
        let sut = try await backend.makeRoles()
        let store = sut.store
        let contacts = 24
        try await workspace(store, contacts: contacts)
        let (text, model) = try Self.exampleModel()
        let first = try await store.applyScoringModel(text: text, model: model, comment: "first", actor: tester, at: t0, progress: nil)
        #expect(first.version == 1 && first.rescored == contacts)
        // Random events in random batches, arriving out of time order, some sent twice.
        var events = randomEvents(700, contacts: contacts, seed: 5)
        events += Array(events.prefix(80))
        var rng = SeededRandom(seed: 6)
        for i in events.indices.reversed() { events.swapAt(i, rng.int(0...i)) }
        var start = 0
        while start < events.count {
            let end = min(events.count, start + rng.int(1...60))
            _ = try await store.ingest([IngestBatch(events: Array(events[start..<end]), atomic: false, actor: tester)], at: t0)
            start = end
        }
        #expect(try await store.count(.touchpoints) == 700)
        let now = try Timestamp.parse("2026-03-20T00:00:00Z").get()
        let reopened = try await sut.reopen()
        var live: [String: ScoreExplanation] = [:]
        for i in 0..<contacts { live["c\(i)"] = try #require(try await reopened.scoreExplanation(contactID: "c\(i)", at: now)) }
        #expect(live.values.contains { $0.engagementParts.contains { $0.cappedAway > 0 } }, "the random events should hit a cap")
        #expect(live.values.contains { $0.engagementParts.contains { $0.rawPoints < 0 } }, "and negative rules")
        // The MQL rule moved qualifying leads while events arrived, by rule and model version.
        var mqls = 0
        for i in 0..<contacts {
            let moves = try await reopened.transitions(contactID: "c\(i)")
            if let m = moves.first(where: { $0.to == "mql" }) {
                mqls += 1
                #expect(m.actor == "rule:mql" && m.modelVersion == 1 && m.from == "lead" && m.reason?.contains("engagement") == true)
                #expect(try await reopened.get(.contacts, id: "c\(i)")?["lifecycle_stage"] == .text("mql"))
            }
        }
        #expect(mqls > 0)
        // Applying the same model again rescores everything from the stored history.
        let again = try await reopened.applyScoringModel(text: text, model: model, comment: "recompute", actor: tester, at: now, progress: nil)
        // The rule is decided whenever a score changes; a lead whose score rose only because
        // negative points decayed faster than positive ones qualifies at the next event or apply.
        let qualifyingLeads = live.values.count { $0.qualifies && $0.stage == "lead" }
        #expect(again.version == 2 && again.diff.gradeChanged == 0 && again.diff.newMQLs == qualifyingLeads)
        #expect(again.movedToMQL == qualifyingLeads)
        for i in 0..<contacts {
            let a = live["c\(i)"]!
            let b = try #require(try await reopened.scoreExplanation(contactID: "c\(i)", at: now))
            #expect(b.version == 2 && a.grade == b.grade && a.fitPoints == b.fitPoints && a.personaID == b.personaID)
            #expect(abs(a.engagement - b.engagement) <= 1e-9 * max(1, abs(a.engagement)), "c\(i): \(a.engagement) vs \(b.engagement)")
            #expect(a.engagementParts.map(\.count) == b.engagementParts.map(\.count))
            #expect(a.engagementParts.map(\.grantedPoints) == b.engagementParts.map(\.grantedPoints))
        }
        let versions = try await reopened.scoringVersions()
        #expect(versions.map(\.status) == ["active", "superseded"] && versions.last?.comment == "first")
    }

    @Test("personas are assigned with a reason; fit follows contact and account edits", arguments: Backend.allCases)
    func personasAndRegrade(backend: Backend) async throws {
        let sut = try await backend.makeRoles()
        let store = sut.store
        try await workspace(store, contacts: 4)
        let (text, model) = try Self.exampleModel()
        _ = try await store.applyScoringModel(text: text, model: model, comment: "", actor: tester, at: t0, progress: nil)
        // c0: CMO at a1 (Software, 800) in DE → persona per-cmo by title.
        let c0 = try #require(try await store.scoreExplanation(contactID: "c0", at: t0))
        #expect(c0.personaID == "per-cmo" && c0.personaReasons == ["title \"CMO\" matches \"cmo\""])
        #expect(try await store.get(.contacts, id: "c0")?["persona_id"] == .text("per-cmo"))
        #expect(c0.fit.first { $0.ruleID == "company-size" }?.matched == true && c0.grade == "A")
        // The account shrinks: every contact of it is graded again at once.
        _ = try await store.update(.accounts, id: "a1", fields: ["employees": .integer(20), "industry": .text("Retail")], actor: tester, at: t0)
        let shrunk = try #require(try await store.scoreExplanation(contactID: "c0", at: t0))
        #expect(shrunk.fitPoints == c0.fitPoints - 45 && shrunk.fit.first { $0.ruleID == "company-size" }?.matched == false)
        // A persona chosen by a person is kept and counts for fit.
        _ = try await store.update(.contacts, id: "c2", fields: ["persona_id": .text("per-cmo")], actor: tester, at: t0)
        let c2 = try #require(try await store.scoreExplanation(contactID: "c2", at: t0))
        #expect(c2.personaID == "per-cmo" && c2.personaReasons == ["set by hand"])
        #expect(c2.fit.first { $0.ruleID == "buyer-persona" }?.matched == true)
    }

    @Test("every stage move is stored; refused moves change nothing; deals move their contacts", arguments: Backend.allCases)
    func lifecycle(backend: Backend) async throws {
        let sut = try await backend.makeRoles()
        let store = sut.store
        try await workspace(store, contacts: 3)
        let user = Actor(userID: "rep-1", role: .sales, via: "test")
        // Forward by a person; backwards refused with the rule's sentence.
        _ = try await store.update(.contacts, id: "c0", fields: ["lifecycle_stage": .text("sal")], actor: user, at: t0)
        await #expect(throws: StoreError.conflict("stages only move forward: sal cannot go back to lead (recycle or disqualify instead)")) {
            _ = try await store.update(.contacts, id: "c0", fields: ["lifecycle_stage": .text("lead")], actor: user, at: t0)
        }
        await #expect(throws: StoreError.conflict("moving a contact to recycled needs a reason")) {
            _ = try await store.update(.contacts, id: "c0", fields: ["lifecycle_stage": .text("recycled")], actor: user, at: t0)
        }
        #expect(try await store.get(.contacts, id: "c0")?["lifecycle_stage"] == .text("sal"))
        _ = try await store.update(
            .contacts,
            id: "c0",
            fields: ["lifecycle_stage": .text("recycled"), "recycle_reason": .text("timing")],
            actor: user,
            at: t0.adding(milliseconds: 1000)
        )
        let moves = try await store.transitions(contactID: "c0")
        #expect(moves.map(\.to) == ["lead", "sal", "recycled"])
        #expect(moves[1].from == "lead" && moves[1].actor == "user:rep-1" && moves[2].reason == "timing")
        let c0 = try #require(try await store.get(.contacts, id: "c0"))
        #expect(c0["became_sal_at"] == .timestamp(t0) && c0["recycled_at"] == .timestamp(t0.adding(milliseconds: 1000)))
        // An opportunity moves its contacts to opportunity; winning it, to customer.
        let created = try Timestamp.parse("2026-02-10T00:00:00Z").get()
        try await store.create(
            record(.opportunities, ["id": .text("o1"), "account_id": .text("a1"), "created_at": .timestamp(created), "primary_contact_id": .text("c1")]),
            actor: tester,
            at: t0
        )
        try await store.create(record(.opportunityContacts, ["opportunity_id": .text("o1"), "contact_id": .text("c2")]), actor: tester, at: t0)
        #expect(try await store.get(.contacts, id: "c1")?["lifecycle_stage"] == .text("opportunity"))
        #expect(try await store.get(.contacts, id: "c2")?["became_opportunity_at"] == .timestamp(created))
        let closed = try Timestamp.parse("2026-03-01T00:00:00Z").get()
        _ = try await store.update(.opportunities, id: "o1", fields: ["is_won": .bool(true), "closed_at": .timestamp(closed)], actor: tester, at: t0)
        for id in ["c1", "c2"] {
            let moves = try await store.transitions(contactID: id)
            #expect(moves.suffix(2).map(\.to) == ["opportunity", "customer"], "\(id)")
            #expect(moves.last?.actor == "system:opportunity o1 won" && moves.last?.at == closed)
        }
    }

    @Test("scores stay right when other writers change them between ingests (this process or another)", arguments: Backend.allCases)
    func cachedScoresFollowOtherWriters(backend: Backend) async throws {
        let sut = try await backend.makeRoles()
        let store = sut.store
        try await workspace(store, contacts: 2)
        let (text, model) = try Self.exampleModel()
        _ = try await store.applyScoringModel(text: text, model: model, comment: "", actor: tester, at: t0, progress: nil)
        func webinar(_ id: String) -> Result<IncomingEvent, EventRejection> {
            EventPayload(fields: ["id": id, "type": "webinar_attended", "occurred_at": "2026-02-01T10:00:00Z", "contact_id": "c0"]).validate()
        }
        _ = try await store.ingest([IngestBatch(events: [webinar("w1")], atomic: true, actor: tester)], at: t0)
        let before = try #require(try await store.scoreExplanation(contactID: "c0", at: t0))
        // This process changes the contact's account: the next event must see the new fit.
        _ = try await store.update(.accounts, id: "a1", fields: ["employees": .integer(10)], actor: tester, at: t0)
        _ = try await store.ingest([IngestBatch(events: [webinar("w2")], atomic: true, actor: tester)], at: t0)
        let afterEdit = try #require(try await store.scoreExplanation(contactID: "c0", at: t0))
        #expect(afterEdit.fit.first { $0.ruleID == "company-size" }?.matched == false)
        #expect(afterEdit.fitPoints == before.fitPoints - 25, "the stored state was graded again")
        #expect(afterEdit.engagementParts.first { $0.rule == "webinar" }?.count == 2)
        // Another process (a second store on the same file) adds an event in between.
        let other = try await sut.reopen()
        _ = try await other.ingest([IngestBatch(events: [webinar("w3")], atomic: true, actor: tester)], at: t0)
        _ = try await store.ingest([IngestBatch(events: [webinar("w4")], atomic: true, actor: tester)], at: t0)
        let both = try #require(try await store.scoreExplanation(contactID: "c0", at: t0))
        #expect(both.engagementParts.first { $0.rule == "webinar" }?.count == 4)
        // A failed atomic batch leaves the stored score as it was.
        let bad = IngestBatch(events: [webinar("w5"), .failure(EventRejection("malformed"))], atomic: true, actor: tester)
        _ = try await store.ingest([bad], at: t0)
        _ = try await store.ingest([IngestBatch(events: [webinar("w6")], atomic: true, actor: tester)], at: t0)
        let last = try #require(try await store.scoreExplanation(contactID: "c0", at: t0))
        #expect(last.engagementParts.first { $0.rule == "webinar" }?.count == 5)
    }
}
