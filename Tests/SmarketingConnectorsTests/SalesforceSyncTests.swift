import Foundation
import SmarketingConnectors
import SmarketingCore
import SmarketingStore
import Testing
import VendorFakes

extension VendorConnectorSuites {
@Suite("Salesforce connector against a fake org")
struct SalesforceSyncTests {
    static func org(people: Int, leads: Int, batchSize: Int = 50) -> ([FakePerson], FakeSalesforce) {
        let fake = FakeSalesforce(batchSize: batchSize)
        let persons = FakeData.people(people, companies: 20, withoutEmail: 0.05, seed: 9)
        FakeData.fillSalesforce(fake, people: persons, leads: leads, companies: Set(0..<20), vary: false)
        return (persons, fake)
    }

    @Test("leads, contacts, accounts, opportunities with roles, campaign members and tasks through nextRecordsUrl", arguments: SyncBackend.allCases)
    func fullSync(_ backend: SyncBackend) async throws {
        let (persons, fake) = Self.org(people: 200, leads: 80)
        let server = try await FakeServerHandle.start(fake.router())
        defer { server.stop() }
        let ws = try await SyncWorkspace.make(backend)
        try await ws.connectSalesforce("sf", server, fake: fake)
        let r = try await ws.sync("sf")
        #expect(r.status == "ok", "\(r.errors)")
        #expect(try await ws.store.count(.contacts) == 200)
        #expect(r.counts["people"]?.created == 200)
        #expect(r.counts["companies"]?.created == 20)
        #expect(r.counts["deals"]?.created == 12, "\(r.skipped)")
        #expect(r.counts["memberships"]?.created == 50)
        #expect(r.counts["activities"]?.created == 67)
        // 200 people in batches of 50: the query locators were followed to the end.
        #expect(fake.traffic.log.filter { $0.hasPrefix("/services/data/v62.0/query/01g") }.count >= 3)
        // Roles became opportunity contacts and moved the contact to opportunity.
        let opp = try #require(try await ws.store.list(.opportunities, ListQuery()).records.first)
        #expect(opp["primary_contact_id"].text != nil)
        let won = try await ws.store.list(.opportunities, { var q = ListQuery(); q.equals["is_won"] = .bool(true); return q }()).records
        #expect(won.count == 6)
        // A lead's "Working - Contacted" is SAL here (the default mapping).
        #expect(try await ws.contacts().filter { $0["lifecycle_stage"].text == "sal" }.count == persons.prefix(80).filter { $0.n % 5 == 0 }.count)
    }

    @Test("an expired session is renewed once; deletions unlink, merges merge; the daily allowance is reported", arguments: SyncBackend.allCases)
    func sessionsDeletionsMerges(_ backend: SyncBackend) async throws {
        let (persons, fake) = Self.org(people: 60, leads: 0)
        let server = try await FakeServerHandle.start(fake.router())
        defer { server.stop() }
        let ws = try await SyncWorkspace.make(backend)
        try await ws.connectSalesforce("sf", server, fake: fake)
        #expect(try await ws.sync("sf").status == "ok")
        let tokensBefore = fake.traffic.log.filter { $0.hasPrefix("/services/oauth2/token") }.count
        fake.expireTokens()
        ws.clock.advance(3_600_000)
        let later = ws.clock.now()
        let loser = FakeData.sfID("003", persons[1].n)
        let winner = FakeData.sfID("003", persons[0].n)
        fake.delete("Contact", loser, at: later, mergedInto: winner)
        let gone = FakeData.sfID("003", persons[2].n)
        fake.delete("Contact", gone, at: later)
        fake.update("Contact", FakeData.sfID("003", persons[3].n), at: later, ["Title": .string("VP Marketing")])
        let r = try await ws.sync("sf")
        #expect(r.status == "ok", "\(r.errors)")
        #expect(fake.traffic.log.filter { $0.hasPrefix("/services/oauth2/token") }.count == tokensBefore + 1)
        #expect(r.counts["people"]?.merged == 1 && r.counts["people"]?.deleted == 1 && r.counts["people"]?.updated == 1, "\(r.counts)")
        #expect(try await ws.store.count(.contacts) == 59)
        // The deleted record stays here (its history counts), without its Salesforce link.
        let goneContact = try #require(try await ws.contacts().first { $0["email"].text == persons[2].email })
        #expect(try await ws.store.syncLinks(resource: .contacts, recordID: goneContact.id).isEmpty)
        // The merged-away id keeps resolving to the person.
        #expect(try await ws.store.linkedRecord(connection: "sf", object: "Contact", externalID: loser) != nil)

        fake.traffic.inject(
            Array(repeating: .init(status: 403, body: #"[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]"#), count: 1),
            onPath: "/query"
        )
        let limited = try await ws.sync("sf")
        #expect(limited.status == "failed" && limited.errors.first?.contains("daily API allowance") == true, "\(limited.errors)")
    }

    @Test("write-back through sObject Collections: 200 per request, refused fields reported, never sent twice")
    func writeback() async throws {
        let (_, fake) = Self.org(people: 450, leads: 100, batchSize: 500)
        let server = try await FakeServerHandle.start(fake.router())
        defer { server.stop() }
        let ws = try SyncWorkspace()
        try await ws.connectSalesforce("sf", server, fake: fake)
        #expect(try await ws.sync("sf").status == "ok")
        let check = try await ws.service.test("sf")
        #expect(check.ok && check.message.contains("every object can be read"), "\(check.message)")
        fake.traffic.resetCounts()
        let first = try await ws.service.writeback("sf", dryRun: false)
        #expect(first.failed == 0 && first.delivered == first.queued && first.queued > 0)
        #expect(fake.traffic.log.filter { $0.contains("composite/sobjects") }.count == 3)  // 450 records, 200 per request
        #expect(Set(fake.updates.map(\.0)).count == 450 && fake.updates.count == 450)
        let again = try await ws.service.writeback("sf", dryRun: false)
        #expect(again.queued == 0 && again.requests == 0)
        // A field the org does not have: the change fails with Salesforce's reason, nothing retried.
        fake.removeUpdateable("Smarketing_Stage__c")
        let missing = try await ws.service.test("sf")
        #expect(missing.message.contains("Lead.Smarketing_Stage__c"))
        let c = try #require(try await ws.contacts().first { $0["lifecycle_stage"].text == "lead" })
        _ = try await ws.store.update(.contacts, id: c.id, fields: ["lifecycle_stage": .text("mql")], actor: SyncWorkspace.actor, at: ws.clock.now())
        let refused = try await ws.service.writeback("sf", dryRun: false)
        #expect(refused.failed == 2 && refused.delivered == 0)
        let log = try await ws.store.writebackLog(connection: "sf", limit: 5)
        #expect(log.first?.status == "failed" && log.first?.lastError?.contains("INVALID_FIELD") == true)
    }
}
}
