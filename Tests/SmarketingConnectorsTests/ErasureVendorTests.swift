import Foundation
import SmarketingConnectors
import SmarketingCore
import SmarketingStore
import Testing
import VendorFakes

extension VendorConnectorSuites {
@Suite("Erasure pushed to the vendors")
struct ErasureVendorTests {
    @Test("a person in HubSpot, Pipedrive and Salesforce: erased here, GDPR-deleted in HubSpot, deleted in Pipedrive, Salesforce named for erasure by hand; a later sync does not bring them back")
    func pushed() async throws {
        let persons = FakeData.people(40, companies: 5, withoutEmail: 0, seed: 31)
        let hubspot = FakeHubSpot()
        hubspot.grant(token: "hs-token")
        FakeData.fillHubSpot(hubspot, people: persons, companies: 5, deals: 0, emailsPerPerson: 1, vary: false, seed: 31)
        let pipedrive = FakePipedrive(limit: 2000, window: .seconds(1))
        pipedrive.fill(people: persons, companies: 5)
        let salesforce = FakeSalesforce(batchSize: 400)
        FakeData.fillSalesforce(salesforce, people: persons, leads: 20, companies: Set(0..<5), vary: false)
        let hs = try await FakeServerHandle.start(hubspot.router())
        let pd = try await FakeServerHandle.start(pipedrive.router())
        let sf = try await FakeServerHandle.start(salesforce.router())
        defer {
            hs.stop()
            pd.stop()
            sf.stop()
        }
        let ws = try SyncWorkspace()
        try await ws.connectHubSpot("hs", hs, token: "hs-token")
        try await ws.connectSalesforce("sf", sf, fake: salesforce)
        _ = try await ws.service.add(
            name: "pd", vendor: .pipedrive, baseURL: pd.baseURL, secrets: ["api_token": pipedrive.token],
            settings: ["rate_limit": "1000", "rate_window_seconds": "1"], actor: SyncWorkspace.actor
        )
        for name in ["hs", "pd", "sf"] { #expect(try await ws.sync(name).status == "ok") }
        let email = try #require(persons[7].email)
        let id = try #require(try await PersonPrivacy.resolve(ws.store, email))
        let links = try #require(try await ws.store.personData(contactID: id)?.sections.first { $0.name == "vendor_links" }?.rows)
        #expect(Set(links.compactMap { $0["connection"] }) == [.string("hs"), .string("pd"), .string("sf")], "\(links)")

        let outcome = try await PersonPrivacy.erase(ws.store, contactID: id, reason: "Art. 17", actor: SyncWorkspace.actor, at: ws.clock.now(), connections: ws.service)
        let by = Dictionary(grouping: outcome.vendors, by: \.connection)
        #expect(by["hs"]?.map(\.outcome) == [.erased], "\(outcome.vendors)")
        #expect(by["pd"]?.map(\.outcome) == [.erased], "\(outcome.vendors)")
        #expect(by["sf"]?.allSatisfy { $0.outcome == .manual } == true, "\(outcome.vendors)")
        #expect(hubspot.gdprDeleted.count == 1 && pipedrive.deleted.count == 1)
        #expect(try await ws.store.personData(contactID: id)?.sections.first { $0.name == "vendor_links" }?.rows.isEmpty == true)

        // HubSpot and Pipedrive no longer have the person; Salesforce still does (erased by hand
        // later): its next full sync makes a new record, flagged, never the erased one.
        ws.clock.advance(3_600_000)
        for name in ["hs", "pd", "sf"] { #expect(try await ws.sync(name, full: true).status == "ok") }
        let erased = try #require(try await ws.store.get(.contacts, id: id))
        #expect(erased["first_name"].isNull && erased["email"].text == Erasure.placeholderEmail(contactID: id))
        let again = try #require(try await PersonPrivacy.resolve(ws.store, email))
        #expect(again != id)
        #expect(try await ws.store.erasureMatches(limit: 10).map(\.contactID) == [again])
        // A second erasure of the same contact is refused; nothing is pushed again.
        await #expect(throws: StoreError.self) {
            _ = try await PersonPrivacy.erase(ws.store, contactID: id, reason: "again", actor: SyncWorkspace.actor, at: ws.clock.now(), connections: ws.service)
        }
        #expect(hubspot.gdprDeleted.count == 1)
    }
}
}
