import Foundation
import Testing

/// examples/handover.yaml of the checkout.
func exampleHandoverPath() -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("examples/handover.yaml").path
}

@Suite("CLI: settings")
struct SettingsCLITests {
    @Test("settings show and set: defaults, a change with its version, refusals in one sentence, a stale version")
    func settings() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("smk-settings-cli-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let db = dir + "/w.sqlite"
        let bundle = dir + "/bundle"
        #expect(try await CLIRun.run(["demo", "--leads", "200", "--seed", "3", "--out", bundle]).status == 0)
        #expect(try await CLIRun.run(["import", "bundle", bundle, "--database", db]).status == 0)

        let shown = try await CLIRun.run(["settings", "show", "--database", db])
        #expect(shown.status == 0 && shown.stdout.contains("workspace.timezone") && shown.stdout.contains("UTC (default)"), "\(shown.stderr)")
        #expect(shown.stdout.contains("settings version 0"))

        let set = try await CLIRun.run(["settings", "set", "workspace.timezone", "Europe/Berlin", "--if-version", "0", "--author", "ops", "--database", db])
        #expect(set.status == 0, "\(set.stderr)")
        #expect(set.stdout.contains("workspace.timezone: UTC → Europe/Berlin (settings version 1)") && set.stdout.contains("rebuilt"))
        // The rebuild says how far it is, on stderr: every phase, the contacts counted to the end.
        #expect(set.stderr.contains("rebuilding KPI aggregates: 0 of ") && set.stderr.contains("rebuilding KPI aggregates: writing"), "\(set.stderr)")
        let again = try await CLIRun.run(["settings", "set", "workspace.timezone", "Europe/Berlin", "--database", db])
        #expect(again.status == 0 && again.stdout.contains("nothing changed"))
        let json = try await CLIRun.run(["settings", "show", "workspace.timezone", "--json", "--database", db])
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any] ?? [:]
        #expect(object["version"] as? Int == 1)
        #expect((object["settings"] as? [String: String])?["workspace.timezone"] == "Europe/Berlin")
        // The CLI shows times in the workspace's zone, named.
        let handover = try await CLIRun.run(["handover", "apply", exampleHandoverPath(), "--comment", "zones", "--database", db])
        #expect(handover.status == 0, "\(handover.stderr)")
        let versions = try await CLIRun.run(["handover", "versions", "--database", db])
        #expect(versions.status == 0 && versions.stdout.contains(" Europe/Berlin "), "\(versions.stdout)")
        let verify = try await CLIRun.run(["kpi", "verify", "--database", db])
        #expect(verify.status == 0 && verify.stdout.contains("agree"), "\(verify.stdout)\(verify.stderr)")

        for (arguments, status, sentence) in [
            (["settings", "set", "workspace.timezone", "Europe/Berln"], Int32(2), "not an IANA time zone"),
            (["settings", "set", "colour", "red"], 2, "\"colour\" is not a setting"),
            (["settings", "set", "kpi.sla_hours", "0"], 2, "0.25 to 2160"),
            (["settings", "show", "nope"], 2, "\"nope\" is not a setting"),
            (["settings", "set", "kpi.stale_days", "30", "--if-version", "0"], 1, "changed since version 0"),
        ] {
            let r = try await CLIRun.run(arguments + ["--database", db])
            #expect(r.status == status && r.stderr.contains(sentence), "\(arguments): \(r.status) \(r.stderr)")
            #expect(r.stderr.hasPrefix("Error: ") || r.stderr.hasPrefix("error: "), "\(r.stderr)")
        }
    }
}
