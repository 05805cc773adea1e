import Foundation
import Testing

@Suite("CLI: erasure and a person's export")
struct PrivacyCLITests {
    @Test("contacts erase (dry run, then --yes), export-person, erasures; refusals in one sentence")
    func erase() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("smk-privacy-cli-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let db = dir + "/w.sqlite"
        let bundle = dir + "/bundle"
        #expect(try await CLIRun.run(["demo", "--leads", "200", "--seed", "4", "--out", bundle]).status == 0)
        #expect(try await CLIRun.run(["import", "bundle", bundle, "--database", db]).status == 0)
        let csv = try String(contentsOfFile: bundle + "/contacts.csv", encoding: .utf8).split(separator: "\n")
        let header = csv[0].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        let row = csv[1].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        let id = try #require(header.firstIndex(of: "id").map { row[$0] })
        let email = try #require(header.firstIndex(of: "email").map { row[$0] })
        let before = try await CLIRun.run(["kpi", "show", "--from", "2020-01-01", "--to", "2030-01-01", "--format", "json", "--database", db])

        let export = try await CLIRun.run(["contacts", "export-person", email, "--output", dir + "/person.json", "--database", db])
        #expect(export.status == 0 && export.stderr.contains("wrote everything stored about \(id)"), "\(export.stderr)")
        let doc = try JSONSerialization.jsonObject(with: try Data(contentsOf: URL(fileURLWithPath: dir + "/person.json"))) as? [String: Any] ?? [:]
        #expect((doc["contact"] as? [String: Any])?["email"] as? String == email && doc["touchpoints"] is [Any])

        // Consent: nobody said; set it; read it back.
        #expect(try await CLIRun.run(["contacts", "consent", id, "--database", db]).stdout == "\(id): no subscription status stated\n")
        let set = try await CLIRun.run(["contacts", "consent", email, "--set", "unsubscribed", "--source", "phone call", "--database", db])
        #expect(set.status == 0 && set.stdout.hasPrefix("\(id): unsubscribed (phone call, "), "\(set.stdout)\(set.stderr)")
        let consentJSON = try await CLIRun.run(["contacts", "consent", id, "--json", "--database", db])
        #expect(consentJSON.stdout.contains("\"status\":\"unsubscribed\""))

        let noReason = try await CLIRun.run(["contacts", "erase", id, "--reason", " ", "--database", db])
        #expect(noReason.status != 0 && noReason.stderr.contains("give a reason"))
        let dry = try await CLIRun.run(["contacts", "erase", email, "--reason", "Art. 17 request", "--database", db])
        #expect(dry.status == 0 && dry.stdout.contains("would erase contact \(id)") && dry.stdout.contains("--yes"), "\(dry.stdout)")
        #expect(try await CLIRun.run(["contacts", "export-person", id, "--database", db]).stdout.contains(email), "the dry run changed nothing")
        let erased = try await CLIRun.run(["contacts", "erase", email, "--reason", "Art. 17 request", "--yes", "--database", db])
        #expect(erased.status == 0 && erased.stdout.contains("erased contact \(id): ") && erased.stdout.contains("contact_consent 1") && erased.stdout.contains("contacts 1"), "\(erased.stdout)\(erased.stderr)")
        #expect(!FileManager.default.fileExists(atPath: db + ".key"), "no vendor link: no secret key is made")
        let again = try await CLIRun.run(["contacts", "erase", id, "--reason", "Art. 17 request", "--yes", "--database", db])
        #expect(again.status == 1 && again.stderr == "error: this contact was erased; nothing is left to erase\n", "\(again.stderr)")
        let gone = try await CLIRun.run(["contacts", "erase", email, "--reason", "x", "--database", db])
        #expect(gone.status == 1 && gone.stderr.contains("no contact with id or email"))
        let list = try await CLIRun.run(["contacts", "erasures", "--database", db])
        #expect(list.stdout.contains("erased \(id)\tby cli\tArt. 17 request"), "\(list.stdout)")
        let after = try await CLIRun.run(["contacts", "export-person", id, "--database", db])
        #expect(!after.stdout.contains(email) && after.stdout.contains("\"erasure\""))
        // Every figure is the same; the aggregates agree with the raw history.
        let kpis = try await CLIRun.run(["kpi", "show", "--from", "2020-01-01", "--to", "2030-01-01", "--format", "json", "--database", db])
        #expect(kpis.stdout == before.stdout)
        #expect(try await CLIRun.run(["kpi", "verify", "--database", db]).status == 0)
        // The database file and its WAL no longer hold the address.
        for f in [db, db + "-wal"] {
            if let data = FileManager.default.contents(atPath: f) { #expect(data.range(of: Data(email.utf8)) == nil, "\(f)") }
        }
    }
}
