import Foundation
import SmarketingStore
import Testing
import ThrowawayPostgres

@Suite("The command line on PostgreSQL")
struct CLIPostgresTests {
    @Test("db migrate migrates a new PostgreSQL database once; commands that need roles PostgreSQL lacks say so in one sentence")
    func migrate() async throws {
        let url = try await ThrowawayPostgres.newDatabase()
        let first = try await CLIRun.run(["db", "migrate", "--database", url])
        #expect(first.status == 0 && first.stdout.contains("applied \(PostgresStore.migrationCount) migration(s)"), "\(first.stderr)")
        let again = try await CLIRun.run(["db", "migrate", "--json"], environment: ["SMARKETING_DATABASE": url])
        #expect(again.status == 0 && again.stdout.contains("\"applied\":[]"), "\(again.stderr)")
        let kpi = try await CLIRun.run(["kpi", "--database", url, "--json"])
        #expect(kpi.status == 0 && kpi.stdout.contains("\"schema\":\"smarketing-kpis\\/1\""), "\(kpi.stderr)")
        let list = try await CLIRun.run(["connect", "list", "--database", url])
        #expect(list.status == 0, "\(list.stderr)")
        // Vendor credentials are sealed with a key every instance shares: on PostgreSQL it must
        // come from the environment.
        let connect = try await CLIRun.run(
            ["connect", "add", "hubspot", "hs", "--access-token", "t", "--database", url],
            environment: ["SMARKETING_SECRET_KEY": ""]
        )
        #expect(connect.status == 1 && connect.stderr.contains("SMARKETING_SECRET_KEY"), "\(connect.stderr)")
        #expect(connect.stderr.split(separator: "\n").count == 1)
        let closed = try await CLIRun.run(["db", "migrate", "--database", "postgres://postgres@127.0.0.1:1/x"])
        #expect(closed.status == 1 && closed.stderr.hasPrefix("error: cannot reach PostgreSQL at postgres://postgres@127.0.0.1:1/x"))
        let bad = try await CLIRun.run(["db", "migrate", "--database", "postgres://h:99999/x"])
        #expect(bad.status == 1 && bad.stderr.contains("is not a valid PostgreSQL URL"))
        let other = try await CLIRun.run(["db", "migrate", "--database", "mysql://h/x"])
        #expect(other.status == 1 && other.stderr.contains("is not one smarketing knows"))
    }

    @Test("db copy moves a whole workspace SQLite → PostgreSQL → SQLite: byte-equal bundles and state (models, handovers, tokens, connections re-sealed); import and export bundle run on PostgreSQL")
    func copyBothWays() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("smk-copy-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let demo = try await CLIRun.run(["demo", "--leads", "400", "--seed", "5", "--out", dir + "/demo"])
        #expect(demo.status == 0, "\(demo.stderr)")
        let a = dir + "/a.sqlite"
        let imported = try await CLIRun.run(["import", "bundle", dir + "/demo", "--database", a])
        #expect(imported.status == 0, "\(imported.stderr)")
        // The workspace beyond its records: a handover configuration, a scoring model whose MQLs
        // are routed (handovers, SLA clocks, stage and score history), a token, a password, a
        // vendor connection sealed with the SQLite workspace's own key file.
        let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("examples").path
        let lowBar = dir + "/low-bar.yaml"
        try String(contentsOfFile: examples + "/scoring-model.yaml", encoding: .utf8)
            .replacingOccurrences(of: "mql: engagement >= 50 and grade in [A, B]", with: "mql: engagement >= 5")
            .write(toFile: lowBar, atomically: true, encoding: .utf8)
        #expect(try await CLIRun.run(["handover", "apply", examples + "/handover.yaml", "--database", a]).status == 0)
        #expect(try await CLIRun.run(["scoring", "apply", lowBar, "--at", "2026-01-01T00:00:00Z", "--comment", "first", "--author", "ops", "--database", a]).status == 0)
        #expect(try await CLIRun.run(["handover", "sla-run", "--at", "2030-01-01T00:00:00Z", "--database", a]).status == 0)
        #expect(try await CLIRun.run(["token", "create", "--user", "u-admin", "--role", "admin", "--database", a]).status == 0)
        #expect(try await CLIRun.run(["connect", "add", "hubspot", "hs", "--access-token", "pat-copy", "--database", a], environment: ["SMARKETING_SECRET_KEY": ""]).status == 0)
        let key = ["SMARKETING_SECRET_KEY": "copy-test-key-0123456789"]
        let pg = try await ThrowawayPostgres.newDatabase()
        let there = try await CLIRun.run(["db", "copy", "--from", a, "--to", pg, "--json"], environment: key)
        #expect(there.status == 0 && there.stdout.contains("\"byte_equal\":true"), "\(there.stderr)")
        let copied = try #require(try JSONSerialization.jsonObject(with: Data(there.stdout.utf8)) as? [String: Any])
        let state = try #require(copied["state"] as? [String: Int])
        #expect(state["scoring_models"] == 1 && state["handover_configs"] == 1 && state["api_tokens"] == 1 && state["connections"] == 1, "\(state)")
        #expect((state["handovers"] ?? 0) > 0 && (state["sla_clocks"] ?? 0) > 0 && (state["score_history"] ?? 0) > 0 && (state["audit_log"] ?? 0) > 0, "\(state)")
        let back = try await CLIRun.run(["db", "copy", "--from", pg, "--to", dir + "/b.sqlite"], environment: key)
        #expect(back.status == 0 && back.stdout.contains("the two exports are byte-equal"), "\(back.stderr)")
        // The same workspace on all three: models, handovers, connections, KPIs; the copied
        // credentials open under the target's key (SMARKETING_SECRET_KEY on the copies).
        for args in [["scoring", "versions"], ["handover", "versions"], ["connect", "list"], ["kpi", "--from", "2025-01-01", "--to", "2026-01-01", "--json"]] {
            var outputs: [String] = []
            for db in [a, pg, dir + "/b.sqlite"] {
                let r = try await CLIRun.run(args + ["--database", db], environment: db == a ? ["SMARKETING_SECRET_KEY": ""] : key)
                #expect(r.status == 0, "\(args): \(r.stderr)")
                outputs.append(r.stdout)
            }
            #expect(Set(outputs).count == 1, "\(args) differs between the source and its copies")
        }
        let owners = try await CLIRun.run(["handover", "list", "--limit", "1000", "--json", "--database", dir + "/b.sqlite"])
        #expect(owners.status == 0 && owners.stdout.contains("owner_id"), "\(owners.stderr)")
        // A copy whose credentials no key opens is refused before anything is written.
        let wrongKey = try await ThrowawayPostgres.newDatabase()
        let refused = try await CLIRun.run(["db", "copy", "--from", pg, "--to", wrongKey], environment: ["SMARKETING_SECRET_KEY": "another-key-0123456789"])
        #expect(refused.status == 1 && refused.stderr.contains("a vendor connection cannot be copied"), "\(refused.stderr)")
        let retried = try await CLIRun.run(["db", "copy", "--from", pg, "--to", wrongKey], environment: key)
        #expect(retried.status == 0, "nothing was written by the refused copy: \(retried.stderr)")
        // The round trip ends where it began.
        for (db, out) in [(a, dir + "/xa"), (dir + "/b.sqlite", dir + "/xb"), (pg, dir + "/xp")] {
            let e = try await CLIRun.run(["export", "bundle", out, "--database", db])
            #expect(e.status == 0, "\(e.stderr)")
        }
        for file in try FileManager.default.contentsOfDirectory(atPath: dir + "/xa") {
            let a = FileManager.default.contents(atPath: dir + "/xa/" + file)
            #expect(a != nil && a == FileManager.default.contents(atPath: dir + "/xb/" + file) && a == FileManager.default.contents(atPath: dir + "/xp/" + file), "\(file)")
        }
        // A second copy into the now non-empty target is refused; so is a missing source.
        let again = try await CLIRun.run(["db", "copy", "--from", dir + "/a.sqlite", "--to", pg])
        #expect(again.status == 1 && again.stderr.contains("already holds"))
        let missing = try await CLIRun.run(["db", "copy", "--from", dir + "/none.sqlite", "--to", dir + "/c.sqlite"])
        #expect(missing.status == 1 && missing.stderr.contains("there is no database at"))
        // Re-importing its own export into PostgreSQL changes nothing.
        let reimport = try await CLIRun.run(["import", "bundle", dir + "/xp", "--database", pg, "--json"])
        #expect(reimport.status == 0, "\(reimport.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(reimport.stdout.utf8)) as? [String: Any])
        let files = try #require(summary["files"] as? [[String: Any]])
        #expect(summary["committed"] as? Bool == true && summary["merged_contacts"] as? Int == 0)
        #expect(files.count == 11 && files.allSatisfy { $0["inserted"] as? Int == 0 && $0["updated"] as? Int == 0 })
    }

    @Test("scoring and the handover run on PostgreSQL as on SQLite: one bundle gives the same diff, explanations, routing, breaches and acceptance report")
    func scoringOnBoth() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("smk-pgscore-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let demo = try await CLIRun.run(["demo", "--leads", "300", "--seed", "9", "--out", dir + "/demo"])
        #expect(demo.status == 0, "\(demo.stderr)")
        let model = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("examples/scoring-model.yaml").path
        let lowBar = dir + "/low-bar.yaml"
        try String(contentsOfFile: model, encoding: .utf8).replacingOccurrences(of: "mql: engagement >= 50 and grade in [A, B]", with: "mql: engagement >= 5")
            .write(toFile: lowBar, atomically: true, encoding: .utf8)
        let databases = [dir + "/s.sqlite", try await ThrowawayPostgres.newDatabase()]
        var outputs: [[String]] = []
        for db in databases {
            let imported = try await CLIRun.run(["import", "bundle", dir + "/demo", "--database", db])
            #expect(imported.status == 0, "\(imported.stderr)")
            let at = "2026-01-01T00:00:00Z"
            let diff = try await CLIRun.run(["scoring", "diff", model, "--at", at, "--json", "--database", db])
            #expect(diff.status == 0, "\(diff.stderr)")
            // Routing first, then a model with a low MQL bar: the contacts it qualifies are routed
            // in the apply's last transaction.
            let config = URL(fileURLWithPath: model).deletingLastPathComponent().appendingPathComponent("handover.yaml").path
            let handover = try await CLIRun.run(["handover", "apply", config, "--database", db])
            #expect(handover.status == 0 && handover.stdout.contains("handover configuration version 1 is active"), "\(handover.stderr)")
            let apply = try await CLIRun.run(["scoring", "apply", lowBar, "--at", at, "--comment", "first", "--author", "ops", "--json", "--database", db])
            #expect(apply.status == 0, "\(apply.stderr)")
            let applied = try #require(try JSONSerialization.jsonObject(with: Data(apply.stdout.utf8)) as? [String: Any])
            #expect(applied["version"] as? Int == 1 && applied["rescored"] as? Int == 300, "\(apply.stdout.prefix(300))")
            let versions = try await CLIRun.run(["scoring", "versions", "--database", db])
            #expect(versions.status == 0 && versions.stdout.contains("v1  active") && versions.stdout.contains("ops  first"), "\(versions.stdout)")
            var explained: [String] = []
            for contact in ["ct-1", "ct-150", "ct-299", "ct-77"] {
                let e = try await CLIRun.run(["score", "explain", contact, "--at", at, "--json", "--database", db])
                #expect(e.status == 0, "\(contact): \(e.stderr)")
                explained.append(e.stdout)
            }
            let backtest = try await CLIRun.run(["scoring", "backtest", model, "--json", "--database", db])
            #expect(backtest.status == 0, "\(backtest.stderr)")
            // The handover on the same data: the new MQLs routed alike, the same clocks due.
            let list = try await CLIRun.run(["handover", "list", "--open", "--limit", "1000", "--database", db, "--json"])
            let open = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])
            #expect(!open.isEmpty, "the demo has MQLs to route")
            let owners = open.compactMap { $0["owner_id"] as? String }.sorted().joined(separator: ",")
            let inbox = try await CLIRun.run(["inbox", "--user", owners.split(separator: ",").first.map(String.init) ?? "", "--database", db])
            #expect(inbox.status == 0, "\(inbox.stderr)")
            let sla = try await CLIRun.run(["handover", "sla-run", "--at", "2030-01-01T00:00:00Z", "--database", db, "--json"])
            #expect(sla.status == 0, "\(sla.stderr)")
            let due = try #require(try JSONSerialization.jsonObject(with: Data(sla.stdout.utf8)) as? [String: Any])
            let report = try await CLIRun.run(["report", "acceptance", "--from", "2020-01-01", "--to", "2031-01-01", "--by", "team", "--database", db, "--json"])
            #expect(report.status == 0, "\(report.stderr)")
            outputs.append(
                [diff.stdout] + explained + [owners, "\(due["clocks_seen"] ?? "-") \(due["warnings"] ?? "-") \(due["breaches"] ?? "-")", report.stdout]
            )
        }
        #expect(outputs.count == 2 && outputs[0] == outputs[1], "the same diff and explanations on SQLite and PostgreSQL")
    }

    @Test("db grant-bi sets up a role that reads the reporting views and nothing else")
    func grantBI() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("smk-bi-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(try await CLIRun.run(["demo", "--leads", "200", "--seed", "3", "--out", dir + "/demo"]).status == 0)
        let url = try await ThrowawayPostgres.newDatabase()
        #expect(try await CLIRun.run(["import", "bundle", dir + "/demo", "--database", url]).status == 0)
        let granted = try await CLIRun.run(["db", "grant-bi", "bi_reader_\(getpid())", "--database", url])
        #expect(granted.status == 0 && granted.stdout.contains("may read: reporting_kpi_cells"), "\(granted.stderr)")
        let again = try await CLIRun.run(["db", "grant-bi", "bi_reader_\(getpid())", "--database", url])
        #expect(again.status == 0 && !again.stdout.contains("created role"))
        let bad = try await CLIRun.run(["db", "grant-bi", "Robert'); DROP TABLE contacts;--", "--database", url])
        #expect(bad.status == 1 && bad.stderr.contains("must be lowercase letters"))
        let sqlite = try await CLIRun.run(["db", "grant-bi", "bi", "--database", dir + "/x.sqlite"])
        #expect(sqlite.status == 1 && sqlite.stderr.contains("sets up a PostgreSQL role"))
        // As the BI role: the facts and cells read, the raw tables refused.
        let psql = try await ThrowawayPostgres.cluster().bin + "/psql"
        let biURL = url.replacingOccurrences(of: "postgres://postgres@", with: "postgres://bi_reader_\(getpid())@")
        func query(_ sql: String) async throws -> (Int32, String) {
            try await ThrowawayPostgres.offload { try run(sql) }
        }
        @Sendable func run(_ sql: String) throws -> (Int32, String) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: psql)
            p.arguments = ["-At", "-v", "ON_ERROR_STOP=1", "-c", sql, biURL]
            let out = Pipe()
            p.standardOutput = out
            p.standardError = out
            try p.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            return (p.terminationStatus, String(decoding: data, as: UTF8.self))
        }
        let facts = try await query("SELECT count(*), count(mql_at), min(created_at) < now() FROM reporting_contact_facts")
        #expect(facts.0 == 0 && facts.1.hasPrefix("200|"), "\(facts.1)")
        let cells = try await query("SELECT count(*) > 0 FROM reporting_kpi_cells WHERE metric = 'leads'")
        #expect(cells.0 == 0 && cells.1.hasPrefix("t"), "\(cells.1)")
        let deals = try await query("SELECT count(*) > 0, bool_or(is_won) FROM reporting_opportunity_facts")
        #expect(deals.0 == 0 && deals.1.hasPrefix("t|t"), "\(deals.1)")
        let raw = try await query("SELECT count(*) FROM contacts")
        #expect(raw.0 != 0 && raw.1.contains("permission denied"), "\(raw.1)")
    }
}

@Suite("Backups from the command line")
struct BackupCLITests {
    @Test("backup create and restore on PostgreSQL (pg_dump/pg_restore) and SQLite: the restored workspace reports the same figures and its aggregates agree with its history; refusals in one sentence")
    func backupRestore() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("smk-backup-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(try await CLIRun.run(["demo", "--leads", "300", "--seed", "6", "--out", dir + "/demo"]).status == 0)
        for location in [try await ThrowawayPostgres.newDatabase(), dir + "/w.sqlite"] {
            let name = location.hasPrefix("postgres") ? "pg" : "sqlite"
            #expect(try await CLIRun.run(["import", "bundle", dir + "/demo", "--database", location]).status == 0)
            let file = dir + "/\(name).backup"
            let made = try await CLIRun.run(["backup", "create", file, "--database", location])
            #expect(made.status == 0 && made.stdout.hasPrefix("backed up to \(file)"), "\(name): \(made.stderr)")
            let again = try await CLIRun.run(["backup", "create", file, "--database", location])
            #expect(again.status == 1 && again.stderr.contains("a backup never overwrites a file") && again.stderr.split(separator: "\n").count <= 2, "\(again.stderr)")
            let before = try await CLIRun.run(["kpi", "show", "--from", "2024-01-01", "--to", "2026-07-01", "--json", "--database", location])
            let refused = try await CLIRun.run(["backup", "restore", file, "--database", location])
            #expect(refused.status == 1 && refused.stderr.contains("--replace"), "\(refused.stderr)")
            let restored = try await CLIRun.run(["backup", "restore", file, "--replace", "--database", location])
            #expect(restored.status == 0 && restored.stdout.hasPrefix("restored \(file)"), "\(name): \(restored.stderr)")
            let verify = try await CLIRun.run(["kpi", "verify", "--database", location])
            #expect(verify.status == 0 && verify.stdout.contains("agree"), "\(name): \(verify.stdout)\(verify.stderr)")
            let after = try await CLIRun.run(["kpi", "show", "--from", "2024-01-01", "--to", "2026-07-01", "--json", "--database", location])
            // The restored workspace reports the same figures as before the restore.
            #expect(after.status == 0 && before.status == 0 && after.stdout == before.stdout, "\(name)")
            let junk = dir + "/junk-\(name)"
            try Data("junk".utf8).write(to: URL(fileURLWithPath: junk))
            let bad = try await CLIRun.run(["backup", "restore", junk, "--replace", "--database", location])
            #expect(bad.status == 1 && (bad.stderr.contains("not an SQLite database") || bad.stderr.contains("not a pg_dump")), "\(bad.stderr)")
        }
    }
}
