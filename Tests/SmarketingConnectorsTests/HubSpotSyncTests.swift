import Foundation
import SmarketingConnectors
import SmarketingCore
import SmarketingStore
import Testing
import VendorFakes

extension VendorConnectorSuites {
@Suite("HubSpot connector against a fake portal")
struct HubSpotSyncTests {
    static func portal(people: Int, searchWindow: Int = 10_000, limit: Int = 100) -> ([FakePerson], FakeHubSpot) {
        let fake = FakeHubSpot(limit: limit, window: .seconds(10), searchWindow: searchWindow)
        fake.grant(token: "good")
        let persons = FakeData.people(people, companies: 25, withoutEmail: 0.05, seed: 3)
        FakeData.fillHubSpot(fake, people: persons, companies: 25, deals: 10, emailsPerPerson: 1, vary: false, seed: 3)
        return (persons, fake)
    }

    @Test("a full sync reads every page of every object, within the rate limit, into one record each", arguments: SyncBackend.allCases)
    func fullSync(_ backend: SyncBackend) async throws {
        let (persons, fake) = Self.portal(people: 250)
        let server = try await FakeServerHandle.start(fake.router())
        defer { server.stop() }
        let ws = try await SyncWorkspace.make(backend)
        try await ws.connectHubSpot("hs", server, token: "good", limit: 40)
        let report = try await ws.sync("hs")
        #expect(report.status == "ok", "\(report.errors)")
        #expect(report.counts["people"]?.created == 250)
        #expect(report.counts["companies"]?.created == 25)
        #expect(report.counts["owners"]?.created == 3)
        #expect(report.counts["deals"]?.created == 10, "\(report.skipped)")
        #expect(report.counts["activities"]?.created == 250)
        #expect(try await ws.store.count(.contacts) == 250)
        #expect(try await ws.store.count(.opportunities) == 10)
        // Contacts 3 pages, emails 3 pages: the list API was followed to the end.
        #expect(fake.traffic.log.filter { $0.hasPrefix("/crm/v3/objects/contacts?") && $0.contains("archived=false") }.count == 3)
        // Never over the published limit (40 per 10 s here), so never a 429.
        #expect(fake.traffic.overLimit == 0 && fake.traffic.maxInWindow <= 40)
        // People without an email are kept, one each, under a stand-in address.
        let noEmail = persons.filter { $0.email == nil }.count
        #expect(noEmail > 0)
        #expect(try await ws.contacts().filter { SyncRecords.isPlaceholder($0["email"].text) }.count == noEmail)
        // Every record knows its HubSpot id.
        let c = try #require(try await ws.contacts().first { $0["email"].text == persons[0].email })
        let links = try await ws.store.syncLinks(resource: .contacts, recordID: c.id)
        #expect(links.map(\.externalID) == [String(10_000 + persons[0].n)])
        // HubSpot's MQLs are MQLs here; owners came as users without sign-in.
        #expect(try await ws.contacts().filter { $0["became_mql_at"].timestamp != nil }.count == persons.filter { $0.n % 5 == 4 }.count)

        // A second sync (incremental, through the search API) creates nothing.
        let again = try await ws.sync("hs")
        #expect(again.status == "ok")
        #expect(again.counts.values.reduce(0) { $0 + $1.created } == 0)
        #expect(try await ws.store.count(.contacts) == 250)
        #expect(fake.traffic.log.contains { $0.hasPrefix("/crm/v3/objects/contacts/search") })
    }

    @Test("incremental sync reads what changed, restarts searches before the 10,000-result window ends, and applies HubSpot's merges", arguments: SyncBackend.allCases)
    func incremental(_ backend: SyncBackend) async throws {
        let (persons, fake) = Self.portal(people: 400, searchWindow: 300)
        let server = try await FakeServerHandle.start(fake.router())
        defer { server.stop() }
        let ws = try await SyncWorkspace.make(backend)
        try await ws.connectHubSpot("hs", server, token: "good", searchWindow: 300)
        #expect(try await ws.sync("hs").status == "ok")
        // 350 people change their title (more than one search window of 300 here).
        ws.clock.advance(3_600_000)
        let later = ws.clock.now()
        for p in persons.prefix(350) { fake.modify("contacts", String(10_000 + p.n), at: later, ["jobtitle": "Chief Revenue Officer"]) }
        // HubSpot merged contact 10001 into 10000: the survivor lists the merged id.
        fake.modify("contacts", "10000", at: later, ["hs_merged_object_ids": "10001"])
        fake.archive("contacts", "10001", at: later)
        fake.traffic.resetCounts()
        let r = try await ws.sync("hs")
        #expect(r.status == "ok", "\(r.errors)")
        #expect(r.counts["people"]?.updated ?? 0 >= 349)
        #expect(r.counts["people"]?.merged == 1)
        let searches = fake.traffic.log.filter { $0.hasPrefix("/crm/v3/objects/contacts/search") }.count
        // 200 results, then (offset 200 + 200 > the window of 300) a new search after the last id:
        // paging on would have hit the window (a 400).
        #expect(searches == 2)
        #expect(fake.traffic.log.filter { $0.hasPrefix("/crm/v3/objects/contacts/search") }.count == searches)
        let titles = try await ws.contacts().filter { $0["title"].text == "Chief Revenue Officer" }.count
        #expect(titles == 349)  // 350 changed, two of them merged into one
        #expect(try await ws.store.count(.contacts) == 399)
        let audit = try await ws.store.audit(limit: 5000, before: nil)
        #expect(audit.contains { $0.action == "merge" && $0.detail.contains("merged in HubSpot") })
    }

    @Test("429 with Retry-After, 5xx and a garbage page: retried or resumed from the cursor, nothing lost or doubled")
    func faults() async throws {
        let (_, fake) = Self.portal(people: 250)
        let server = try await FakeServerHandle.start(fake.router())
        defer { server.stop() }
        let ws = try SyncWorkspace()
        try await ws.connectHubSpot("hs", server, token: "good")
        fake.traffic.inject(
            [
                .init(status: 429, body: #"{"status":"error","message":"You have reached your secondly limit.","errorType":"RATE_LIMIT"}"#, headers: [("Retry-After", "1")]),
                .init(status: 502, body: "<html>bad gateway</html>"),
            ],
            onPath: "/crm/v3/objects/contacts?"
        )
        let first = try await ws.sync("hs")
        #expect(first.status == "ok", "\(first.errors)")
        #expect(try await ws.store.count(.contacts) == 250)

        // A page that is not JSON stops that object; the next sync resumes at its cursor.
        let ws2 = try SyncWorkspace()
        try await ws2.connectHubSpot("hs", server, token: "good")
        fake.traffic.resetCounts()
        // The second contacts page answers garbage (the first is fine).
        fake.traffic.inject([.init(status: 0, body: ""), .init(status: 200, body: "<html>oops</html>", headers: [])], onPath: "/crm/v3/objects/contacts?")
        let broken = try await ws2.sync("hs")
        #expect(broken.status == "failed")
        #expect(broken.errors.contains { $0.contains("not JSON") })
        #expect(try await ws2.store.count(.contacts) == 100)
        let cursor = try await ws2.store.syncCursors(connection: "hs").first { $0.object == .people }
        #expect(cursor?.cursor != nil && cursor?.complete == false)
        let resumed = try await ws2.sync("hs")
        #expect(resumed.status == "ok", "\(resumed.errors)")
        #expect(try await ws2.store.count(.contacts) == 250)
        #expect(resumed.counts["people"]?.created == 150)
    }

    @Test("a revoked token or a missing scope is explained in one sentence and stops the sync")
    func credentials() async throws {
        let (_, fake) = Self.portal(people: 20)
        fake.grant(token: "no-deals", scopes: FakeHubSpot.allScopes.subtracting(["crm.objects.deals.read"]))
        let server = try await FakeServerHandle.start(fake.router())
        defer { server.stop() }
        let ws = try SyncWorkspace()
        try await ws.connectHubSpot("hs", server, token: "good")
        try await ws.connectHubSpot("nodeals", server, token: "no-deals")
        let scope = try await ws.service.test("nodeals")
        #expect(!scope.ok && scope.message.contains("crm.objects.deals.read"))
        let ok = try await ws.service.test("hs")
        #expect(ok.ok && ok.message.contains("setup-fields"), "\(ok.message)")
        fake.revoke(token: "good")
        let revoked = try await ws.service.test("hs")
        #expect(!revoked.ok && revoked.message.contains("access token"))
        let run = try await ws.sync("hs")
        #expect(run.status == "failed" && run.errors.count == 1 && run.errors[0].contains("HTTP 401"))
        #expect(try await ws.store.count(.contacts) == 0)
        let stored = try #require(try await ws.store.connection(named: "hs"))
        #expect(stored.status == "error" && stored.lastError?.contains("401") == true)
    }

    @Test("write-back: fields created, batched at 100, each change sent once, an unchanged value never again", arguments: SyncBackend.allCases)
    func writeback(_ backend: SyncBackend) async throws {
        let (_, fake) = Self.portal(people: 250)
        let server = try await FakeServerHandle.start(fake.router())
        defer { server.stop() }
        let ws = try await SyncWorkspace.make(backend)
        try await ws.connectHubSpot("hs", server, token: "good")
        #expect(try await ws.sync("hs").status == "ok")
        let created = try await ws.service.setupFields("hs")
        #expect(created.filter { $0.hasPrefix("created") }.count == 7)
        #expect(try await ws.service.test("hs").message.contains("write-back properties exist"))
        let dry = try await ws.service.writeback("hs", dryRun: true)
        #expect(dry.wouldSend.count > 0 && fake.updates.isEmpty)
        fake.traffic.resetCounts()
        let first = try await ws.service.writeback("hs", dryRun: false)
        #expect(first.failed == 0 && first.delivered == first.queued && first.queued > 0)
        // 250 people in batches of at most 100 records: 3 requests.
        #expect(fake.traffic.log.filter { $0.contains("batch/update") }.count == 3)
        #expect(Set(fake.updates.map(\.0)).count == 250)
        let mqls = fake.updates.filter { ($0.1["smarketing_mql_date"] ?? "") != "" }.count
        #expect(mqls == 50)
        // Nothing changed: nothing is queued or sent.
        let second = try await ws.service.writeback("hs", dryRun: false)
        #expect(second.queued == 0 && second.requests == 0)
        // One contact moves on: exactly one update for it.
        let contact = try #require(try await ws.contacts().first { $0["lifecycle_stage"].text == "lead" })
        _ = try await ws.store.update(.contacts, id: contact.id, fields: ["lifecycle_stage": .text("mql")], actor: SyncWorkspace.actor, at: ws.clock.now())
        let before = fake.updates.count
        let third = try await ws.service.writeback("hs", dryRun: false)
        #expect(third.requests == 1)
        let sent = fake.updates.dropFirst(before)
        #expect(sent.count == 1 && sent.first?.1["smarketing_lifecycle_stage"] == "mql" && sent.first?.1["smarketing_mql_date"] != nil)
    }

    @Test("connections.yaml: validated against the workspace with line and column, versioned, and used by the next sync (custom stages, strict mode, precedence)")
    func mappingFile() async throws {
        let (persons, fake) = Self.portal(people: 60)
        // Two people carry a custom stage id, one a stage nobody mapped.
        fake.modify("contacts", String(10_000 + persons[0].n), at: FakeData.start, ["lifecyclestage": "1081237"])
        fake.modify("contacts", String(10_000 + persons[1].n), at: FakeData.start, ["lifecyclestage": "1081237"])
        fake.modify("contacts", String(10_000 + persons[2].n), at: FakeData.start, ["lifecyclestage": "999"])
        // A custom property the mapping reads into the contact's phone.
        fake.modify("contacts", String(10_000 + persons[3].n), at: FakeData.start, ["mobile_direct": "+49 30 1234"])
        let server = try await FakeServerHandle.start(fake.router())
        defer { server.stop() }
        let ws = try SyncWorkspace()
        try await ws.connectHubSpot("hs", server, token: "good")
        let unknown = try await ws.service.check("ghost:\n  strict: true\nhs:\n  owners:\n    \"101\": u-nobody\n") { _ in false }
        guard case .failure(let p) = unknown else { Issue.record("accepted a section for no connection"); return }
        #expect(p.problems.contains { $0.line == 1 && $0.column == 1 && $0.message.contains("\"ghost\" is neither a connection") })
        #expect(p.problems.contains { $0.message.contains("u-nobody") })
        let text = """
            hs:
              lifecycle:
                "1081237": sal
              deal_stages:
                closedwon: {stage: won, closed: true, won: true}
              strict: true
              fields:
                mobile_direct: phone
            precedence:
              title: [smarketing]
            """
        let config = try await ws.service.check(text) { _ in true }.get()
        let diff = try await ws.service.diff(config)
        #expect(diff.contains("hs lifecycle 1081237: (none) → sal") && diff.contains { $0.hasPrefix("hs strict") })
        let v = try await ws.store.applyConnectionsConfig(text: text, comment: "custom stages", actor: SyncWorkspace.actor, at: ws.clock.now())
        let active = try await ws.store.activeConnectionsConfig()
        #expect(v.version == 1 && active?.1 == text)
        let r = try await ws.sync("hs")
        #expect(r.counts["people"]?.created == 59)
        #expect(r.skipped.contains { $0.externalID == String(10_000 + persons[2].n) && $0.reason.contains("lifecycle stage \"999\" is not mapped") })
        #expect(try await ws.contacts().filter { $0["became_sal_at"].timestamp != nil }.count == 2)
        #expect(try await ws.contacts().filter { $0["phone"].text == "+49 30 1234" }.count == 1)
        #expect(fake.traffic.log.contains { $0.contains("mobile_direct") }, "the custom property was asked for")
        let won = try await ws.store.list(.opportunities, { var q = ListQuery(); q.equals["stage"] = .text("won"); return q }()).records
        #expect(won.count == 2)
        // Title now belongs to smarketing: a HubSpot change no longer overwrites it.
        ws.clock.advance(3_600_000)
        fake.modify("contacts", String(10_000 + persons[5].n), at: ws.clock.now(), ["jobtitle": "Changed in HubSpot"])
        _ = try await ws.sync("hs")
        #expect(try await ws.contacts().allSatisfy { $0["title"].text != "Changed in HubSpot" })
    }
}
}
