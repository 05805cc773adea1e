import Foundation
import SmarketingConnectors
import SmarketingCore
import SmarketingStore
import Testing
import VendorFakes

extension VendorConnectorSuites {
@Suite("Pipedrive, Marketo and Pardot connectors against fakes")
struct MoreVendorsSyncTests {
    @Test("Pipedrive: users, organizations, persons, deals by stage name and status, done activities; cursor paging; updated_since")
    func pipedrive() async throws {
        let persons = FakeData.people(1200, companies: 30, withoutEmail: 0.03, seed: 5)
        let fake = FakePipedrive(limit: 2000, window: .seconds(1))
        fake.fill(people: persons, companies: 30)
        let server = try await FakeServerHandle.start(fake.router())
        defer { server.stop() }
        let ws = try SyncWorkspace()
        _ = try await ws.service.add(
            name: "pd",
            vendor: .pipedrive,
            baseURL: server.baseURL,
            secrets: ["api_token": fake.token],
            settings: ["rate_limit": "1000", "rate_window_seconds": "1"],
            actor: SyncWorkspace.actor
        )
        #expect(try await ws.service.test("pd").ok)
        let r = try await ws.sync("pd")
        #expect(r.status == "ok", "\(r.errors)")
        #expect(r.counts["people"]?.created == 1200)
        #expect(r.counts["companies"]?.created == 30)
        #expect(r.counts["deals"]?.created == 120, "\(r.skipped)")
        #expect(r.counts["activities"]?.created == 600)
        // 1,200 persons at 500 a page: three pages through next_cursor.
        #expect(fake.traffic.log.filter { $0.hasPrefix("/api/v2/persons?limit=500") }.count == 3)
        #expect(fake.traffic.overLimit == 0)
        let won = try await ws.store.list(.opportunities, { var q = ListQuery(); q.equals["is_won"] = .bool(true); q.limit = 500; return q }()).records
        #expect(won.count == 60)
        let open = try await ws.store.list(.opportunities, { var q = ListQuery(); q.equals["stage"] = .text("Qualified"); q.limit = 500; return q }()).records
        #expect(!open.isEmpty)
        // Incremental: only what changed since the last pass, with updated_since.
        ws.clock.advance(3_600_000)
        fake.update("persons", id: 1, at: ws.clock.now(), ["job_title": .string("Head of Growth")])
        fake.traffic.resetCounts()
        let again = try await ws.sync("pd")
        #expect(again.counts["people"]?.read == 1 && again.counts["people"]?.updated == 1)
        #expect(fake.traffic.log.contains { $0.contains("updated_since=") })
        #expect(try await ws.contacts().contains { $0["title"].text == "Head of Growth" })
        // Write-back: the custom person fields are created by name, then one PATCH per person.
        let before = try await ws.service.writeback("pd", dryRun: false)
        #expect(before.failed > 0 && fake.updates.isEmpty)
        let log = try await ws.store.writebackLog(connection: "pd", limit: 100_000)
        #expect(log.contains { $0.status == "failed" && $0.lastError?.contains("setup-fields") == true })
        let created = try await ws.service.setupFields("pd")
        #expect(created.filter { $0.hasPrefix("created") }.count == 6)
        #expect(try await ws.service.setupFields("pd").allSatisfy { $0.hasSuffix("exists") })
        // The refused changes are queued again, the waiting ones go out: every person once.
        let w = try await ws.service.writeback("pd", dryRun: false)
        #expect(w.failed == 0 && w.delivered > 0)
        #expect(fake.updates.count == 1200 && Set(fake.updates.map(\.0)).count == 1200)
        #expect(fake.updates.contains { $0.1[key: "custom_fields"]?.objectValue?.values.contains(.string("lead")) == true })
        #expect(try await ws.service.writeback("pd", dryRun: false).requests == 0)
        // A wrong token is one sentence.
        _ = try await ws.service.add(name: "bad", vendor: .pipedrive, baseURL: server.baseURL, secrets: ["api_token": "nope"], settings: [:], actor: SyncWorkspace.actor)
        let bad = try await ws.service.test("bad")
        #expect(!bad.ok && bad.message.contains("API token"))
    }

    @Test("Marketo: errors inside 200 bodies (expired token, rate), paging tokens with moreResult, programs, write-back")
    func marketo() async throws {
        let persons = FakeData.people(700, companies: 10, withoutEmail: 0.02, seed: 6)
        let fake = FakeMarketo()
        fake.fill(people: persons)
        let server = try await FakeServerHandle.start(fake.router())
        defer { server.stop() }
        let ws = try SyncWorkspace()
        _ = try await ws.service.add(
            name: "mk",
            vendor: .marketo,
            baseURL: server.baseURL,
            secrets: ["client_id": fake.clientID, "client_secret": fake.clientSecret],
            settings: [:],
            actor: SyncWorkspace.actor
        )
        let check = try await ws.service.test("mk")
        #expect(check.ok && check.message.contains("smarketingScore"), "\(check.message)")
        // The first activities call answers 606 (rate) inside a 200: waited out and retried.
        fake.traffic.inject([.init(status: 200, body: #"{"requestId":"1","success":false,"errors":[{"code":"606","message":"Max rate limit '100' exceeded with in '20' secs"}]}"#)], onPath: "/rest/v1/activities.json")
        let r = try await ws.sync("mk")
        #expect(r.status == "ok", "\(r.errors)")
        #expect(r.counts["people"]?.created == 700)
        #expect(r.counts["campaigns"]?.created == 2)
        #expect(r.counts["activities"]?.created == 700 + 350)
        // 2,100 activities of the people's types at 300 a page, read while moreResult was true.
        #expect(fake.traffic.log.filter { $0.hasPrefix("/rest/v1/activities.json") && $0.contains("12%2C13") || $0.contains("activityTypeIds=12,13") }.count >= 3)
        // An expired token (602) is replaced once.
        fake.expireTokens()
        for f in ["smarketingStage", "smarketingScore", "smarketingGrade", "smarketingMQLDate", "smarketingSLAStatus", "smarketingRejectionReason"] { fake.addField(f) }
        let w = try await ws.service.writeback("mk", dryRun: false)
        #expect(w.failed == 0 && w.delivered > 0)
        #expect(fake.traffic.log.filter { $0.hasPrefix("/identity/oauth/token") }.count >= 2)
        #expect(Set(fake.updates.map(\.0)).count == 700 && fake.updates.count == 700)
        #expect(fake.traffic.log.filter { $0 == "/rest/v1/leads.json" }.count == 3)  // 700 leads, 300 per request
    }

    @Test("Pardot: business unit header, fields, nextPageToken paging, deletions, score and grade written back", arguments: SyncBackend.allCases)
    func pardot(_ backend: SyncBackend) async throws {
        let persons = FakeData.people(1500, companies: 10, withoutEmail: 0.02, seed: 8)
        let fake = FakePardot(limit: 1000)
        fake.fill(people: persons)
        let server = try await FakeServerHandle.start(fake.router())
        defer { server.stop() }
        let ws = try await SyncWorkspace.make(backend)
        try await ws.applyModel()
        _ = try await ws.service.add(
            name: "pa",
            vendor: .pardot,
            baseURL: server.baseURL,
            secrets: ["client_id": fake.clientID, "client_secret": fake.clientSecret, "business_unit_id": fake.businessUnit],
            settings: ["rate_limit": "500", "rate_window_seconds": "1"],
            actor: SyncWorkspace.actor
        )
        #expect(try await ws.service.test("pa").ok)
        let r = try await ws.sync("pa")
        #expect(r.status == "ok", "\(r.errors)")
        #expect(r.counts["people"]?.created == 1500)
        #expect(r.counts["activities"]?.created == 1500)
        #expect(fake.traffic.log.filter { $0.contains("nextPageToken=") }.count >= 2)
        let w = try await ws.service.writeback("pa", dryRun: false)
        #expect(w.failed == 0 && fake.updates.count == 1500 && fake.updates.allSatisfy { $0.1.keys.contains("grade") && $0.1.keys.contains("score") })
        // Form fills (type 4) scored 60: those prospects are MQLs with score 60 in Pardot.
        #expect(fake.updates.filter { $0.1["score"] == .number(60) }.count == 750)
        // A wrong business unit is named.
        _ = try await ws.service.add(
            name: "wrongbu",
            vendor: .pardot,
            baseURL: server.baseURL,
            secrets: ["client_id": fake.clientID, "client_secret": fake.clientSecret, "business_unit_id": "0Uv999"],
            settings: [:],
            actor: SyncWorkspace.actor
        )
        let bad = try await ws.service.test("wrongbu")
        #expect(!bad.ok && bad.message.contains("Pardot-Business-Unit-Id"))
    }
}
}
