import Foundation
import HTTPTypes
import HummingbirdTesting
import SmarketingConnectors
import SmarketingCore
import SmarketingServer
import SmarketingStore
import Testing
import ThrowawayPostgres

@Suite("Settings API")
struct SettingsAPITests {
    @Test("GET and PATCH /api/v1/settings: admin only, checked whole, versioned, audited", arguments: ServerBackend.allCases)
    func settings(backend: ServerBackend) async throws {
        let f = try await Fixture.make(backend)
        defer { f.remove() }
        let admin = f.tokens[.admin]
        try await f.app().test(.live) { client in
            for role in [AccessRole.marketing, .sales, .viewer] {
                let r = try await client.call(.get, "/api/v1/settings", token: f.tokens[role])
                #expect(r.status == .forbidden && r.isProblem, "\(role) reads the settings")
                let w = try await client.call(.patch, "/api/v1/settings", token: f.tokens[role], body: #"{"workspace.currency":"EUR"}"#)
                #expect(w.status == .forbidden && w.isProblem, "\(role) changes the settings")
            }
            let first = try await client.call(.get, "/api/v1/settings", token: admin)
            #expect(first.status == .ok)
            #expect(first.json["version"] as? Int == 0)
            let defaults = first.json["settings"] as? [String: String] ?? [:]
            #expect(defaults["workspace.timezone"] == "UTC" && defaults["kpi.sla_hours"] == "24" && defaults.count == WorkspaceSettingKey.allCases.count)

            // Refused whole, with the reason; nothing is written.
            let bad = try await client.call(.patch, "/api/v1/settings", token: admin, body: #"{"workspace.timezone":"Europe/Berln","kpi.sla_hours":8}"#)
            #expect(bad.status == .unprocessableContent && bad.isProblem)
            #expect((bad.json["detail"] as? String)?.contains("workspace.timezone") == true, "\(bad.text)")
            // Numbers are numbers, within the document's ranges.
            for body in [#"{"kpi.sla_hours":"8"}"#, #"{"kpi.sla_hours":0}"#, #"{"workspace.currency":"eur"}"#, #"{"attribution.half_life_days":1e400}"#] {
                let r = try await client.call(.patch, "/api/v1/settings", token: admin, body: body)
                #expect(r.status == .unprocessableContent || r.status == .badRequest, "\(body): \(r.status)")
            }
            let unknown = try await client.call(.patch, "/api/v1/settings", token: admin, body: #"{"colour":"red"}"#)
            #expect(unknown.status == .unprocessableContent && unknown.isProblem)
            let empty = try await client.call(.patch, "/api/v1/settings", token: admin, body: "{}")
            #expect(empty.status == .unprocessableContent && empty.isProblem)
            #expect(try await client.call(.get, "/api/v1/settings", token: admin).json["version"] as? Int == 0)

            let ok = try await client.call(
                .patch, "/api/v1/settings", token: admin,
                body: #"{"workspace.timezone":"Europe/Berlin","kpi.sla_hours":8,"workspace.fiscal_year_start_month":4,"if_version":0}"#
            )
            #expect(ok.status == .ok, "\(ok.text)")
            #expect(ok.json["version"] as? Int == 1)
            #expect(ok.json["rebuilt_aggregates"] as? Bool == true)
            let changes = ok.json["changes"] as? [[String: String]] ?? []
            #expect(changes.contains { $0["key"] == "workspace.timezone" && $0["old"] == "UTC" && $0["new"] == "Europe/Berlin" })
            #expect(changes.count == 3)
            let now = (ok.json["settings"] as? [String: String]) ?? [:]
            #expect(now["kpi.sla_hours"] == "8" && now["workspace.fiscal_year_start_month"] == "4")

            // Only if_version: nothing changes, the version is checked.
            let check = try await client.call(.patch, "/api/v1/settings", token: admin, body: #"{"if_version":1}"#)
            #expect(check.status == .ok && check.json["version"] as? Int == 1 && (check.json["changes"] as? [Any])?.isEmpty == true, "\(check.text)")
            // A change on a stale version is a conflict.
            let stale = try await client.call(.patch, "/api/v1/settings", token: admin, body: #"{"kpi.stale_days":30,"if_version":0}"#)
            #expect(stale.status == .conflict && stale.isProblem && (stale.json["detail"] as? String)?.contains("version") == true)

            // The audit log names each change.
            let audit = try await client.call(.get, "/api/v1/audit?limit=20", token: admin)
            let entries = audit.data.filter { $0["action"] as? String == "settings.set" }
            #expect(entries.count == 3, "\(audit.text)")
            #expect(entries.contains { $0["recordID"] as? String == "workspace.timezone" || $0["record_id"] as? String == "workspace.timezone" })
        }
        #expect(try await f.store.workspaceSettings().settings.timeZone.identifier == "Europe/Berlin")
    }

    @Test("a change that rebuilds the aggregates runs in the background with progress (?background=true); the job ends done and the figures agree", arguments: ServerBackend.allCases)
    func background(backend: ServerBackend) async throws {
        let f = try await Fixture.make(backend)
        defer { f.remove() }
        let demo = FileManager.default.temporaryDirectory.appendingPathComponent("smk-settings-bg-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: demo) }
        _ = try DemoWorkspace(leads: 300, seed: 2).write(to: demo)
        #expect(try await f.store.importRows(try Bundle.open(demo), options: ImportOptions(), actor: Fixture.actor, at: Fixture.clock.now()) { _ in }.committed)
        let admin = f.tokens[.admin]
        try await f.app().test(.live) { client in
            // A change that does not rebuild answers at once, even with background=true.
            let quick = try await client.call(.patch, "/api/v1/settings?background=true", token: admin, body: #"{"kpi.stale_days":21}"#)
            #expect(quick.status == .ok && quick.json["rebuilt_aggregates"] as? Bool == false)
            // A bad value is refused at once, not in a job.
            let bad = try await client.call(.patch, "/api/v1/settings?background=true", token: admin, body: #"{"workspace.timezone":"Europe/Berln"}"#)
            #expect(bad.status == .unprocessableContent)
            let started = try await client.call(.patch, "/api/v1/settings?background=true", token: admin, body: #"{"workspace.timezone":"Europe/Berlin","if_version":1}"#)
            #expect(started.status == .accepted && started.json["status"] as? String == "running", "\(started.text)")
            let location = try #require(started.headers[.location])
            #expect(try await client.call(.get, location, token: f.tokens[.marketing]).status == .forbidden)
            var job: [String: Any] = [:]
            for _ in 0..<300 {
                job = try await client.call(.get, location, token: admin).json
                if job["status"] as? String != "running" { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(job["status"] as? String == "done" && (job["message"] as? String)?.contains("workspace.timezone UTC → Europe/Berlin") == true, "\(job)")
            #expect(job["total"] as? Int ?? 0 > 0, "the contacts the rebuild recomputed: \(job)")
            #expect(try await client.call(.get, "/api/v1/settings/jobs/nope", token: admin).status == .notFound)
        }
        #expect(try await f.store.workspaceSettings().settings.timeZone.identifier == "Europe/Berlin")
        #expect(try await f.store.verifyKPIs().mismatches.isEmpty)
    }

    @Test("the default period of the KPI API follows the fiscal year and the workspace's zone (the web pages and the CLI read the same rule)")
    func fiscalDefaults() async throws {
        let f = try await Fixture.make(.sqlite)
        defer { f.remove() }
        try await f.app().test(.live) { client in
            // The fixed clock is 2026-01-01 00:00 UTC: still 2025-12-31 in Los Angeles.
            let before = try await client.call(.get, "/api/v1/kpis", token: f.tokens[.viewer])
            #expect((before.json["period"] as? [String: Any])?["from"] as? String == "2026-01-01")
            _ = try await f.store.changeSettings(
                ["workspace.fiscal_year_start_month": "2", "workspace.timezone": "America/Los_Angeles"], ifVersion: nil, actor: Fixture.actor, at: Fixture.clock.now()
            )
            let after = try await client.call(.get, "/api/v1/kpis", token: f.tokens[.viewer])
            let period = after.json["period"] as? [String: Any]
            #expect(period?["from"] as? String == "2025-11-01" && period?["to"] as? String == "2026-02-01", "\(after.text.prefix(200))")
        }
    }
}

@Suite("Readiness")
struct ReadinessTests {
    @Test("/readyz: ready when the database answers with this build's schema; 503 with the reason when the schema is another version's", arguments: ServerBackend.allCases)
    func readyz(backend: ServerBackend) async throws {
        let f = try await Fixture.make(backend)
        defer { f.remove() }
        try await f.app().test(.live) { client in
            let ready = try await client.call(.get, "/readyz", token: nil)
            #expect(ready.status == .ok && ready.json["status"] as? String == "ready" && ready.json["database"] as? String == "ok", "\(ready.text)")
            let (applied, known) = try await f.store.schemaVersions()
            #expect(applied == known && ready.json["migrations"] as? Int == known)
            if backend == .postgres {
                // Another instance migrated further: this one is not ready, and says why.
                let bin = try await ThrowawayPostgres.cluster().bin
                let psql = Process()
                psql.executableURL = URL(fileURLWithPath: bin + "/psql")
                psql.arguments = ["--dbname=" + f.location, "--quiet", "--command", "INSERT INTO schema_migrations(version, name) VALUES (999, 'from a newer build')"]
                try psql.run()
                psql.waitUntilExit()
                #expect(psql.terminationStatus == 0)
                let notReady = try await client.call(.get, "/readyz", token: nil)
                #expect(notReady.status == .serviceUnavailable && notReady.isProblem && (notReady.json["detail"] as? String)?.contains("this build knows") == true, "\(notReady.text)")
            }
        }
    }
}
