import Foundation
import SmarketingConnectors
import SmarketingCore
import SmarketingStore
import Testing
import VendorFakes

extension VendorConnectorSuites {
@Suite("CSV presets and mapping files")
struct CSVPresetTests {
    func write(_ text: String, _ ws: SyncWorkspace, _ name: String) throws -> String {
        let path = ws.dir + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("a HubSpot export and a Salesforce report of the same people make one contact each; bad rows are named by line and column", arguments: SyncBackend.allCases)
    func presets(_ backend: SyncBackend) async throws {
        let ws = try await SyncWorkspace.make(backend)
        let importer = CSVImporter(store: ws.store, clock: ws.clock)
        let hubspot = try write(
            """
            Record ID,First Name,Last Name,Email,Job Title,Lifecycle Stage,Create Date
            101,Anna,Berg,anna@acme.example,CMO,lead,2026-01-05
            102,Ben,Klein, BEN@acme.example ,CEO,marketingqualifiedlead,2026-01-06 10:00:00
            103,Clara,Wolf,not-an-email,CFO,lead,2026-01-07
            104,=cmd|' /C calc'!A0,Neu,dora@neu.example,CTO,lead,yesterday
            """,
            ws,
            "hubspot.csv"
        )
        let refused = try await importer.run(path: hubspot, preset: try #require(CSVPreset.named("hubspot-contacts")), skipInvalid: false, actor: SyncWorkspace.actor)
        #expect(!refused.committed && refused.rejected.map { "\($0.line):\($0.column)" } == ["4:4", "5:7"])
        #expect(try await ws.store.count(.contacts) == 0, "a file with bad rows imports nothing")
        let taken = try await importer.run(path: hubspot, preset: try #require(CSVPreset.named("hubspot-contacts")), skipInvalid: true, actor: SyncWorkspace.actor)
        #expect(taken.committed && taken.counts.created == 2 && taken.rejected.count == 2)
        let salesforce = try write(
            """
            Contact ID,First Name,Last Name,Email,Title,Mailing Country,Created Date
            003A,Anna,Berg,ANNA@ACME.EXAMPLE,Chief Marketing Officer,Germany,2026-01-02
            003B,Emil,Fuchs,emil@fuchs.example,Buyer,Austria,2026-01-03
            003C,Nora,Ohne,,Analyst,Germany,2026-01-04
            """,
            ws,
            "sf.csv"
        )
        let sf = try await importer.run(path: salesforce, preset: try #require(CSVPreset.named("salesforce-contacts")), skipInvalid: false, actor: SyncWorkspace.actor)
        // Anna is linked to her HubSpot record by email; Nora, without an email, has an id and is kept.
        #expect(sf.committed && sf.rejected.isEmpty && sf.counts.linked == 1 && sf.counts.created == 2)
        let contacts = try await ws.contacts()
        #expect(contacts.count == 4)
        // Anna: one contact; Salesforce (a CRM) wins her title over HubSpot's.
        let anna = try #require(contacts.first { $0["email"].text.flatMap(EmailAddress.key) == "anna@acme.example" })
        #expect(anna["title"] == .text("Chief Marketing Officer"))
        #expect(try await ws.store.syncLinks(resource: .contacts, recordID: anna.id).count == 2)
        // A cell that a spreadsheet would run as a formula is stored as text (unescaped on import).
        #expect(!contacts.contains { ($0["first_name"].text ?? "").hasPrefix("'=") })
    }

    @Test("a mapping file maps any spreadsheet; its problems have line and column")
    func mappingFile() async throws {
        let bad = CSVMappingFile.read("object: people\ncolumns:\n  email: E-Mail\n  shoe_size: Schuhgröße\n")
        guard case .failure(let p) = bad else { Issue.record("accepted an unknown field"); return }
        #expect(p.problems.first?.line == 4 && p.problems.first?.column == 3)
        #expect(p.problems.first?.message.contains("unknown field \"shoe_size\"") == true)
        let noKey = CSVMappingFile.read("object: people\ncolumns:\n  first_name: Vorname\n")
        #expect((try? noKey.get()) == nil)
        let ws = try SyncWorkspace()
        let map = try #require(try? CSVMappingFile.read("object: people\nsource: fair-2026\ncolumns:\n  first_name: Vorname\n  email: E-Mail\n  company: Firma\n").get())
        let path = try write("Vorname,E-Mail,Firma\nAnna,anna@acme.example,Acme\nEmil,EMIL@fuchs.example,Fuchs\n", ws, "fair.csv")
        let r = try await CSVImporter(store: ws.store, clock: ws.clock).run(path: path, preset: map, skipInvalid: false, actor: SyncWorkspace.actor)
        #expect(r.committed && r.counts.created == 2 && r.unusedColumns.isEmpty)
        let again = try await CSVImporter(store: ws.store, clock: ws.clock).run(path: path, preset: map, skipInvalid: false, actor: SyncWorkspace.actor)
        #expect(again.counts.created == 0 && again.counts.unchanged == 2)
        #expect(try await ws.store.count(.contacts) == 2)
    }
}
}
