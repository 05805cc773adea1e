import Foundation
import SmarketingCore
import Testing

/// Runs the real `smarketing` binary.
struct CLIRun {
    var status: Int32
    var stdout: String
    var stderr: String

    static func run(_ arguments: [String], stdin: String? = nil, environment: [String: String] = [:]) async throws -> CLIRun {
        try await runProgram(try smarketingBinary(), arguments, stdin: stdin, environment: environment)
    }

    /// Runs any program (a script of the repository) the same way. The wait happens on a thread
    /// of its own: a test that blocked one of the few cooperative threads for minutes (the fuzz
    /// run) starved the HTTP servers of the suites running beside it.
    static func runProgram(_ program: String, _ arguments: [String], stdin: String? = nil, environment: [String: String] = [:]) async throws -> CLIRun {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<CLIRun, any Error>) in
            Thread.detachNewThread {
                do {
                    continuation.resume(returning: try blockingRun(program, arguments, stdin: stdin, environment: environment))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    static func blockingRun(_ program: String, _ arguments: [String], stdin: String?, environment: [String: String]) throws -> CLIRun {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: program)
        p.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        p.environment = env
        let out = Pipe()
        let err = Pipe()
        let input = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = input
        try p.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return CLIRun(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }
}

@Suite("The smarketing command line")
struct CLITests {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("smk-cli-\(UUID())").path

    @Test("handover: validate with line and column, apply with routing of waiting MQLs, list, inbox, reports, sla-run, refusals")
    func handover() async throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let db = dir + "/h.sqlite"
        let bundle = dir + "/bundle"
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        #expect(try await CLIRun.run(["demo", "--leads", "1500", "--seed", "3", "--out", bundle]).status == 0)
        #expect(try await CLIRun.run(["import", "bundle", bundle, "--database", db]).status == 0)
        let valid = try await CLIRun.run(["handover", "validate", root + "/examples/handover.yaml"])
        #expect(valid.status == 0 && valid.stdout.contains("valid — 2 calendars, 2 teams, 4 routing rules, 2 SLA policies"), "\(valid.stderr)")
        let bad = dir + "/bad.yaml"
        try "calendars:\n  x: {timezone: Mars/Base, hours: {weekdays: \"09:00-17:00\"}}\n".write(toFile: bad, atomically: true, encoding: .utf8)
        let refused = try await CLIRun.run(["handover", "validate", bad])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains(bad + ":2:17: calendar \"x\": unknown time zone \"Mars/Base\""), "\(refused.stderr)")
        #expect(refused.stderr.hasSuffix("the configuration was not used\n"))
        let applied = try await CLIRun.run(["handover", "apply", root + "/examples/handover.yaml", "--comment", "test", "--route-waiting", "--database", db])
        #expect(applied.status == 0 && applied.stdout.contains("handover configuration version 1 is active;"), "\(applied.stderr)")
        let versions = try await CLIRun.run(["handover", "versions", "--database", db, "--json"])
        let list = try JSONSerialization.jsonObject(with: Data(versions.stdout.utf8)) as? [[String: Any]]
        #expect(list?.first?["comment"] as? String == "test" && list?.first?["active"] as? Bool == true)
        #expect(try await CLIRun.run(["handover", "list", "--open", "--database", db, "--json"]).status == 0)
        #expect(try await CLIRun.run(["inbox", "--user", "u-sdr-1", "--database", db]).status == 0)
        let sla = try await CLIRun.run(["report", "sla", "--from", "2026-01-01", "--to", "2027-01-01", "--by", "team", "--database", db, "--json"])
        #expect(sla.status == 0 && sla.stdout.hasPrefix("["), "\(sla.stderr)")
        let run = try await CLIRun.run(["handover", "sla-run", "--database", db])
        #expect(run.status == 0 && run.stdout.hasPrefix("clocks due: "))
        let missing = try await CLIRun.run(["handover", "accept", "999", "--as", "u-sdr-1", "--database", db])
        #expect(missing.status == 1 && missing.stderr == "error: no handover 999\n", "\(missing.stderr)")
        let pause = try await CLIRun.run(["handover", "pause", "999", "--database", db])
        #expect(pause.status == 1 && pause.stderr == "error: handover 999 is not open\n", "\(pause.stderr)")
        let badBy = try await CLIRun.run(["report", "sla", "--by", "planet", "--database", db])
        #expect(badBy.status == 2)
    }

    @Test("demo → import → re-import → export → duplicates → merge → token, with exit codes")
    func workflow() async throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let db = dir + "/cli.sqlite"
        let bundle = dir + "/bundle"
        let out = dir + "/out"
        let demo = try await CLIRun.run(["demo", "--leads", "1500", "--seed", "9", "--out", bundle, "--json"])
        #expect(demo.status == 0, "\(demo.stderr)")
        let counts = try JSONSerialization.jsonObject(with: Data(demo.stdout.utf8)) as! [String: Int]
        #expect(counts["contacts"]! >= 1500)

        let first = try await CLIRun.run(["import", "bundle", bundle, "--database", db])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("contacts.csv") && first.stdout.contains("imported in"))
        // The demo holds some people twice (email up to case and spaces): the import makes them one.
        #expect(first.stdout.contains("into an earlier contact with the same email"), "\(first.stdout)")
        // SMARKETING_DATABASE names the database when --database is absent; a re-import changes nothing.
        let again = try await CLIRun.run(["import", "bundle", bundle, "--json"], environment: ["SMARKETING_DATABASE": db])
        #expect(again.status == 0)
        let summary = try JSONSerialization.jsonObject(with: Data(again.stdout.utf8)) as! [String: Any]
        for file in summary["files"] as! [[String: Any]] {
            #expect(file["rows"] as! Int == (file["unchanged"] as! Int) + (file["merged_away"] as? Int ?? -1), "\(file)")
        }
        #expect(try await CLIRun.run(["export", "bundle", out, "--database", db]).status == 0)
        #expect(FileManager.default.fileExists(atPath: out + "/touchpoints.csv"))

        let dups = try await CLIRun.run(["contacts", "duplicates", "--database", db, "--json"])
        let pairs = try JSONSerialization.jsonObject(with: Data(dups.stdout.utf8)) as! [[String: String]]
        #expect(!pairs.contains { $0["reason"]!.hasPrefix("same email") }, "the import left people twice")
        let pair = try #require(pairs.first)
        let merge = try await CLIRun.run(["contacts", "merge", pair["keep_id"]!, pair["duplicate_id"]!, "--database", db])
        #expect(merge.status == 0 && merge.stdout.contains("merged"))
        let twice = try await CLIRun.run(["contacts", "merge", pair["keep_id"]!, pair["duplicate_id"]!, "--database", db])
        #expect(twice.status == 1 && twice.stderr.hasPrefix("error: no contacts record"))

        let token = try await CLIRun.run(["token", "create", "--user", "u-admin", "--role", "viewer", "--database", db])
        #expect(token.status == 0 && token.stdout.hasPrefix("smk_") && token.stderr.contains("not shown again"))
        let password = try await CLIRun.run(["user", "password", "--user", "u-admin", "--database", db], stdin: "a long enough secret\n")
        #expect(password.status == 0, "\(password.stderr)")
        #expect(try await CLIRun.run(["token", "create", "--user", "u-admin", "--role", "boss", "--database", db]).status == 2)
        #expect(try await CLIRun.run(["token", "create", "--user", "ghost", "--role", "admin", "--database", db]).status == 1)
        #expect(try await CLIRun.run(["no-such-command"]).status == 2)
        #expect(try await CLIRun.run(["demo", "--leads", "0", "--out", out]).status == 2)
    }

    @Test("kpi in three formats, kpi verify, attribution, and one-sentence refusals")
    func kpiAndAttribution() async throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let db = dir + "/kpi.sqlite"
        let bundle = dir + "/bundle"
        #expect(try await CLIRun.run(["demo", "--leads", "800", "--seed", "4", "--out", bundle]).status == 0)
        #expect(try await CLIRun.run(["import", "bundle", bundle, "--database", db]).status == 0)
        let merged = try await CLIRun.run(["contacts", "merge", "--same-email", "--database", db])
        #expect(merged.status == 0 && merged.stdout.contains("merged"), "\(merged.stderr)")
        let json = try await CLIRun.run(["kpi", "--from", "2025-01-01", "--to", "2025-07-01", "--by", "channel,persona", "--format", "json", "--database", db])
        #expect(json.status == 0, "\(json.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as! [String: Any]
        #expect(report["schema"] as? String == "smarketing-kpis/1")
        let by = report["by"] as! [String: Any]
        #expect(by["channel"] != nil && by["persona"] != nil)
        let total = (report["total"] as! [String: Any])["current"] as! [String: Any]
        #expect(((total["mql_volume"] as! [String: Any])["mqls"] as! Int) > 0)
        let table = try await CLIRun.run(["kpi", "--from", "2025-01-01", "--to", "2025-07-01", "--database", db])
        #expect(table.status == 0 && table.stdout.contains("Win rate") && table.stdout.contains("previous"))
        let csv = try await CLIRun.run(["kpi", "--from", "2025-01-01", "--to", "2025-07-01", "--format", "csv", "--database", db])
        #expect(csv.stdout.hasPrefix("dimension,key,period,from,to,figure,value\n"))
        #expect(csv.stdout.contains("all,all,current,2025-01-01,2025-07-01,lead_response_time.median_hours,"))
        let verify = try await CLIRun.run(["kpi", "verify", "--database", db])
        #expect(verify.status == 0 && verify.stdout.contains("agree"), "\(verify.stdout)\(verify.stderr)")
        let attribution = try await CLIRun.run(["attribution", "--from", "2025-01-01", "--to", "2026-01-01", "--by", "campaign", "--format", "csv", "--database", db])
        #expect(attribution.status == 0, "\(attribution.stderr)")
        let lines = attribution.stdout.split(separator: "\n")
        #expect(lines.first == "model,campaign,revenue,deals,spend,romi,removal_effect")
        #expect(Set(lines.dropFirst().map { String($0.split(separator: ",")[0]) }) == Set(AttributionModel.allCases.map(\.rawValue)))
        let funnel = try await CLIRun.run(["funnel", "--from", "2025-01-01", "--to", "2025-07-01", "--by", "channel", "--database", db])
        #expect(funnel.status == 0 && funnel.stdout.contains("stage          reached") && funnel.stdout.contains("• The biggest step loss"), "\(funnel.stderr)")
        let funnelJSON = try await CLIRun.run(["funnel", "--from", "2025-01-01", "--to", "2025-07-01", "--format", "json", "--database", db])
        let leaks = try JSONSerialization.jsonObject(with: Data(funnelJSON.stdout.utf8)) as! [String: Any]
        #expect(leaks["schema"] as? String == "smarketing-funnel/1" && leaks["by"] as? String == "segment")
        // Exports for BI: the per-record facts (one row per contact) and monthly KPI sets.
        let facts = try await CLIRun.run(["export", "facts", "--kind", "contacts", "--database", db])
        let factLines = facts.stdout.split(separator: "\n")
        #expect(facts.status == 0 && factLines.first?.hasPrefix("id,created_at,stage,lead_at,mql_at") == true, "\(facts.stderr)")
        let exported = try await CLIRun.run(["export", "bundle", dir + "/again", "--json", "--database", db])
        let counts = try JSONSerialization.jsonObject(with: Data(exported.stdout.utf8)) as! [String: Int]
        #expect(factLines.count - 1 == counts["contacts.csv"]!, "one row per contact")
        let monthly = try await CLIRun.run(["export", "kpis", "--from", "2025-01-01", "--to", "2025-04-01", "--grain", "month", "--database", db])
        #expect(monthly.status == 0 && monthly.stdout.hasPrefix("dimension,key,period,from,to,figure,value\n"), "\(monthly.stderr)")
        for month in ["2025-01-01,2025-02-01", "2025-02-01,2025-03-01", "2025-03-01,2025-04-01"] {
            #expect(monthly.stdout.contains("all,all,current,\(month),mql_volume.mqls,"), "\(month)")
        }
        #expect(try await CLIRun.run(["export", "facts", "--kind", "planets", "--database", db]).stderr.contains("--kind takes contacts"))
        let killers = try await CLIRun.run(["funnel", "killers", "--from", "2025-01-01", "--to", "2025-07-01", "--min-paths", "5", "--database", db])
        #expect(killers.status == 0 && killers.stdout.contains("reached mql") && killers.stdout.contains("Markov by channel"), "\(killers.stderr)")
        for (arguments, sentence) in [
            (["funnel", "killers", "--stage", "won", "--database", db], "--stage takes lead"),
            (["funnel", "--by", "planet", "--database", db], "--by takes segment"),
            (["funnel", "--confidence", "1.5", "--database", db], "--confidence must be"),
            (["kpi", "--by", "planet", "--database", db], "--by takes channel"),
            (["kpi", "--from", "2025-02-30", "--database", db], "--from must be a date"),
            (["kpi", "--from", "2025-03-01", "--to", "2025-02-01", "--database", db], "--from must be before --to"),
            (["attribution", "--model", "magic", "--database", db], "--model takes all or"),
        ] {
            let r = try await CLIRun.run(arguments)
            #expect(r.status == 1 && r.stderr.contains(sentence), "\(arguments): \(r.stderr)")
        }
    }

    @Test("scoring validate accepts the example model and names the problems of a bad one")
    func scoringValidate() async throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let example = root.appendingPathComponent("examples/scoring-model.yaml").path
        let ok = try await CLIRun.run(["scoring", "validate", example])
        #expect(ok.status == 0 && ok.stdout.contains("valid — 7 fit rules, 8 engagement rules"))
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let bad = try String(contentsOfFile: example, encoding: .utf8).replacingOccurrences(of: "types: [webinar_attended]", with: "types: [webinar_attend]")
        try bad.write(toFile: dir + "/bad.yaml", atomically: true, encoding: .utf8)
        let run = try await CLIRun.run(["scoring", "validate", dir + "/bad.yaml"])
        #expect(run.status == 1)
        #expect(run.stderr.contains("bad.yaml:75:12: engagement rule \"webinar\": unknown touch type \"webinar_attend\""), "\(run.stderr)")
        #expect(run.stderr.contains("error: ") && run.stderr.contains("the model was not used"))
    }

    @Test("a bad bundle imports nothing, names every problem, and --skip-invalid writes a report")
    func badBundle() async throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/bad", withIntermediateDirectories: true)
        try "id,email,created_at\nc1,a@b.example,2026-01-01T00:00:00Z\nc2,broken,2026-01-01T00:00:00Z\nc3,c@b.example,2026-13-01T00:00:00Z\n"
            .write(toFile: dir + "/bad/contacts.csv", atomically: true, encoding: .utf8)
        let db = dir + "/bad.sqlite"
        let run = try await CLIRun.run(["import", "bundle", dir + "/bad", "--database", db])
        #expect(run.status == 1)
        #expect(run.stderr.contains("contacts.csv:3:2 (email): value \"broken\" is not an email address"))
        #expect(run.stderr.contains("contacts.csv:4:3 (created_at)"))
        #expect(run.stderr.contains("error: nothing was imported: the bundle has 2 problem(s)"))
        let report = dir + "/rejected.csv"
        let skip = try await CLIRun.run(["import", "bundle", dir + "/bad", "--database", db, "--skip-invalid", "--report", report])
        #expect(skip.status == 0)
        let text = try String(contentsOfFile: report, encoding: .utf8)
        #expect(text.hasPrefix("file,line,column,column_name,problem,row\n"))
        #expect(text.contains("contacts.csv,3,2,email,") && text.contains("contacts.csv,4,3,created_at,"))
        let missing = try await CLIRun.run(["import", "bundle", dir + "/nowhere", "--database", db])
        #expect(missing.status == 1 && missing.stderr.contains("is not a directory"))
    }
}
