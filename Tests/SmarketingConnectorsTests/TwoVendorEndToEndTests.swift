import Foundation
import SmarketingConnectors
import SmarketingCore
import SmarketingStore
import Testing
import VendorFakes

extension VendorConnectorSuites {
@Suite("HubSpot + Salesforce into one workspace")
struct TwoVendorEndToEndTests {
    static let model = """
        half_life: 365d
        grades: {A: 10, B: 5, C: rest}
        fit:
          - {id: de, attribute: contact.country, in: [DE, Germany], points: 10}
        engagement:
          - {id: mail, types: [email_sent], points: 30}
          - {id: call, types: [call], points: 30}
        mql: engagement >= 50
        """

    static let handover = """
        calendars:
          always: {timezone: UTC, hours: {every_day: "00:00-24:00"}}
        teams:
          sales: {calendar: always, manager: u-admin, members: [u-rep]}
        reasons:
          bad_fit: {label: Bad fit, action: disqualify}
        routing:
          - {id: pool, team: sales}
        fallback: {queue: triage, owner: u-admin}
        sla:
          - id: std
            accept_within: 4h
        """

    @Test("1,000 people over two tools: one contact per person, KPIs, MQLs routed, write-back once per change", arguments: SyncBackend.allCases)
    func oneWorkspace(_ backend: SyncBackend) async throws {
        let persons = FakeData.people(1000, companies: 40, withoutEmail: 0.04, seed: 21)
        // HubSpot holds people 0–699, Salesforce 300–999: 400 in both, spelled differently.
        let hubspot = FakeHubSpot()
        hubspot.grant(token: "hs-token")
        FakeData.fillHubSpot(hubspot, people: Array(persons[0..<700]), companies: 40, deals: 20, emailsPerPerson: 1, vary: true, seed: 21)
        let salesforce = FakeSalesforce(batchSize: 400)
        FakeData.fillSalesforce(salesforce, people: Array(persons[300..<1000]), leads: 300, companies: Set(0..<40), vary: true)
        let hs = try await FakeServerHandle.start(hubspot.router())
        let sf = try await FakeServerHandle.start(salesforce.router())
        defer {
            hs.stop()
            sf.stop()
        }
        let ws = try await SyncWorkspace.make(backend)
        let actor = SyncWorkspace.actor
        for (id, team) in [("u-admin", "admin"), ("u-rep", "sales")] {
            var u = Record(.users, values: Array(repeating: .null, count: Resource.users.schema.fields.count))
            u["id"] = .text(id)
            u["email"] = .text("\(id)@us.example")
            u["team"] = .text(team)
            try await ws.store.create(u, actor: actor, at: ws.clock.now())
        }
        _ = try await ws.store.applyScoringModel(
            text: Self.model,
            model: try ScoringModelFile.read(Self.model).get(),
            comment: "",
            actor: actor,
            at: ws.clock.now(),
            progress: nil
        )
        _ = try await ws.store.applyHandoverConfig(
            text: Self.handover,
            config: try HandoverConfigFile.read(Self.handover).get(),
            comment: "",
            actor: actor,
            at: ws.clock.now()
        )
        try await ws.connectHubSpot("hubspot", hs, token: "hs-token")
        try await ws.connectSalesforce("salesforce", sf, fake: salesforce)
        let a = try await ws.sync("hubspot")
        let b = try await ws.sync("salesforce")
        #expect(a.status == "ok" && b.status == "ok", "\(a.errors) \(b.errors)")

        // One contact per person: the distinct normalised emails, plus each vendor record of a
        // person without an email (nothing says two of those are one person).
        let emails = Set(persons.compactMap { $0.email.flatMap(EmailAddress.key) })
        let withoutEmail = persons[0..<700].filter { $0.email == nil }.count + persons[300..<1000].filter { $0.email == nil }.count
        let contacts = try await ws.contacts()
        #expect(contacts.count == emails.count + withoutEmail)
        let keys = contacts.compactMap { $0["email"].text.flatMap(EmailAddress.key) }
        #expect(Set(keys).count == keys.count, "two contacts share an email")
        #expect(try await ws.store.duplicateContacts(limit: 10).filter { $0.reason.hasPrefix("same email") }.isEmpty)
        // The overlap is linked to both tools.
        let both = persons[300..<700].first { $0.email != nil }
        let shared = try #require(contacts.first { $0["email"].text.flatMap(EmailAddress.key) == both?.email })
        #expect(Set(try await ws.store.syncLinks(resource: .contacts, recordID: shared.id).map(\.connection)) == ["hubspot", "salesforce"])
        #expect((b.counts["people"]?.linked ?? 0) >= 380)

        // A second round of both syncs changes nothing.
        let a2 = try await ws.sync("hubspot")
        let b2 = try await ws.sync("salesforce")
        #expect(a2.counts.values.reduce(0) { $0 + $1.created + $1.merged } == 0)
        #expect(b2.counts.values.reduce(0) { $0 + $1.created + $1.merged } == 0)
        #expect(try await ws.store.count(.contacts) == contacts.count)

        // KPIs over the synced funnel: the lead cohort is every contact that became a lead in January.
        let january = KPIPeriod(from: LocalDate(year: 2026, month: 1, day: 1), to: LocalDate(year: 2026, month: 2, day: 1))
        let kpis = try await ws.store.kpis(KPIQuery(period: january))
        // (PRODUCT.md: the lead time is became_lead_at, else created_at unless still a subscriber.)
        let leadsInJanuary = try await ws.contacts().filter { c in
            let leadAt = c["became_lead_at"].timestamp ?? (c["lifecycle_stage"].text == "subscriber" ? nil : c["created_at"].timestamp)
            return leadAt.map { $0 >= january.from.startUTC && $0 < january.to.startUTC } ?? false
        }.count
        #expect(kpis.total.current.leadToOpportunity.leadCohort.population == Int64(leadsInJanuary))
        #expect(leadsInJanuary > 500)

        // People touched in both tools (an email in HubSpot, a call in Salesforce) scored as MQLs,
        // and every MQL is routed to the sales team.
        _ = try await ws.store.routeWaitingMQLs(at: ws.clock.now())
        let mqlsFromScore = try await ws.contacts().filter { $0["became_mql_at"].timestamp != nil }
        #expect(mqlsFromScore.count > 20)
        var q = HandoverQuery()
        q.limit = 5000
        let handovers = try await ws.store.handovers(q, at: ws.clock.now())
        let routed = Set(handovers.map(\.contactID))
        let open = mqlsFromScore.filter { $0["lifecycle_stage"].text == "mql" }
        #expect(!open.isEmpty && open.allSatisfy { routed.contains($0.id) })

        // Write-back reaches each CRM exactly once per change.
        _ = try await ws.service.setupFields("hubspot")
        let w1 = try await ws.service.writeback("hubspot", dryRun: false)
        let w2 = try await ws.service.writeback("salesforce", dryRun: false)
        #expect(w1.failed == 0 && w2.failed == 0)
        let dupIDs = Dictionary(grouping: hubspot.updates, by: \.0).filter { $0.value.count > 1 }
        #expect(dupIDs.isEmpty, "\(dupIDs.prefix(3))")
        #expect(hubspot.updates.count == Set(hubspot.updates.map(\.0)).count && hubspot.updates.count == 700)
        #expect(salesforce.updates.count == Set(salesforce.updates.map(\.0)).count && salesforce.updates.count == 700)
        let again1 = try await ws.service.writeback("hubspot", dryRun: false)
        let again2 = try await ws.service.writeback("salesforce", dryRun: false)
        #expect(again1.requests == 0 && again2.requests == 0)
        // The routed owner goes back as the SLA status.
        let withStatus = hubspot.updates.filter { $0.1["smarketing_sla_status"] == "assigned" }.count
        #expect(withStatus > 0)
    }
}
}
