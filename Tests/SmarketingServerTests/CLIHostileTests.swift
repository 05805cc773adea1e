import Foundation
import Testing

/// Hostile arguments and files for the real `smarketing` binary: each ends with exit code 1 or 2
/// and a clear sentence on stderr, never a crash.
@Suite("The command line under hostile input")
struct CLIHostileTests {
    @Test("out-of-range numbers, NaN, impossible dates, YAML bombs and hostile bundles end with one clear sentence, not a crash")
    func hostileArguments() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("smk-cli-hostile-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let db = dir + "/ws.sqlite"
        #expect(try await CLIRun.run(["demo", "--leads", "60", "--seed", "2", "--out", dir + "/bundle"]).status == 0)
        #expect(try await CLIRun.run(["import", "bundle", dir + "/bundle", "--database", db]).status == 0)
        var laughs = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
        for i in 1..<10 { laughs += "x\(i): &x\(i) [" + Array(repeating: i == 1 ? "*a" : "*x\(i - 1)", count: 9).joined(separator: ",") + "]\n" }
        try laughs.write(toFile: dir + "/bomb.yaml", atomically: true, encoding: .utf8)
        try "half_life: 1e300d\n".write(toFile: dir + "/huge.yaml", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: dir + "/bad", withIntermediateDirectories: true)
        try "id,email,created_at\nc1,a@b.example,2026-01-01T00:00:00Z\n".write(toFile: dir + "/bad/contacts.csv", atomically: true, encoding: .utf8)
        try "date,category,amount\n2026-01-01,marketing,1e308\n".write(toFile: dir + "/bad/costs.csv", atomically: true, encoding: .utf8)
        let model = exampleModelPath()
        let cases: [[String]] = [
            ["attribution", "--lookback-days", "100000000000000000"], ["attribution", "--half-life-days", "inf"],
            ["attribution", "--half-life-days", "nan"], ["attribution", "--half-life-days", "1e308"],
            ["kpi", "--from", "0001-01-01"], ["kpi", "--from", "2026-02-30"], ["kpi", "--from", "2026-01-01", "--to", "9999-01-01"],
            ["funnel", "--confidence", "nan"], ["funnel", "--stuck-days", "-5"], ["funnel", "--stale-days", "99999999999999999999"],
            ["scoring", "backtest", model, "--horizon", "1e300d"], ["scoring", "backtest", model, "--capacity", "nan"],
            ["scoring", "validate", dir + "/bomb.yaml"], ["scoring", "validate", dir + "/huge.yaml"], ["scoring", "apply", dir + "/huge.yaml"],
            ["handover", "validate", dir + "/bomb.yaml"], ["import", "bundle", dir + "/bad"], ["import", "bundle", dir + "/missing"],
            ["token", "create", "--user", "u-admin", "--role", "god"], ["token", "create", "--user", "nobody", "--role", "admin"],
            ["handover", "sla-run", "--at", "9999-01-01T00:00:00Z"], ["score", "explain", "nobody", "--at", "0001-01-01T00:00:00Z"],
            ["contacts", "merge", "c-1", "c-1"],
        ]
        for args in cases {
            let r = try await CLIRun.run(args + ["--database", db])
            #expect(r.status == 1 || r.status == 2, "\(args) exited \(r.status): \(r.stderr.prefix(300))")
            let text = r.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(!text.isEmpty && !text.contains("Fatal error") && !text.contains("Crash"), "\(args): \(text.prefix(300))")
        }
        // Nothing of the refused bundle was imported.
        #expect(try await CLIRun.run(["export", "facts", "--kind", "costs", "--database", db]).stdout.contains("1e308") == false)
    }
}
