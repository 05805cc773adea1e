import Foundation
import SmarketingConnectors
import SmarketingCore
import SmarketingServer
import SmarketingStore
import Testing
import VendorFakes

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The built `smarketing` binary next to the test bundle (or $SMARKETING_BIN).
func smarketingBinary() throws -> String {
    if let env = ProcessInfo.processInfo.environment["SMARKETING_BIN"] { return env }
    var candidates: [String] = []
    let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    var dir = exe.deletingLastPathComponent()
    for _ in 0..<4 {
        candidates.append(dir.appendingPathComponent("smarketing").path)
        dir = dir.deletingLastPathComponent()
    }
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    candidates.append(root.appendingPathComponent(".build/debug/smarketing").path)
    for c in candidates where FileManager.default.isExecutableFile(atPath: c) { return c }
    throw TestFailure("the smarketing binary was not found (looked in \(candidates)); run `swift build` first or set SMARKETING_BIN")
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// The server as a separate process, so it can be killed for real.
final class ServerProcess: @unchecked Sendable {
    let process = Process()
    let port: Int
    /// What the server printed (standard output and error), for a failing test to show.
    let logPath: String

    init(database: String, port: Int, environment: [String: String] = [:]) throws {
        self.port = port
        logPath = FileManager.default.temporaryDirectory.appendingPathComponent("smk-serve-\(port)-\(UUID().uuidString.prefix(8)).log").path
        guard FileManager.default.createFile(atPath: logPath, contents: nil), let log = FileHandle(forWritingAtPath: logPath) else {
            throw TestFailure("cannot create the server log \(logPath)")
        }
        process.executableURL = URL(fileURLWithPath: try smarketingBinary())
        process.arguments = ["serve", "--database", database, "--port", String(port)]
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        process.standardOutput = log
        process.standardError = log
        try process.run()
        try? log.close()
    }

    /// The last `lines` lines the server printed, and whether it still runs.
    func logTail(_ lines: Int = 40) -> String {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "(no log at \(logPath))"
        let state = process.isRunning ? "running" : "ended with status \(process.terminationStatus)"
        return "server on port \(port) \(state); its log (\(logPath)) ends:\n" + text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }

    func waitUntilReady() async throws {
        for _ in 0..<300 {
            if let (_, r) = try? await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/healthz")!),
                (r as? HTTPURLResponse)?.statusCode == 200
            {
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestFailure("the server did not start on port \(port)")
    }

    /// SIGKILL, then a short wait for the exit. (Not `waitUntilExit`: it spins a run loop on the
    /// calling thread, and on the two threads of the concurrency pool of a 2-core machine two
    /// such waits stall every test.)
    func kill() {
        Foundation.kill(process.processIdentifier, SIGKILL)
        for _ in 0..<500 where process.isRunning { usleep(10_000) }
    }

    /// SIGTERM without waiting; a server still running 10 s later (a graceful shutdown waiting on
    /// a stream the test left open) gets SIGKILL, from a thread of its own.
    func stop() {
        let (p, log) = (process, logPath)
        guard process.isRunning else {
            try? FileManager.default.removeItem(atPath: log)
            return
        }
        process.terminate()
        Thread.detachNewThread {
            for _ in 0..<200 where p.isRunning { usleep(50_000) }
            if p.isRunning { Foundation.kill(p.processIdentifier, SIGKILL) }
            try? FileManager.default.removeItem(atPath: log)
        }
    }

    /// `stop()`, then waits (without blocking a thread) until the process has ended.
    func stopAndWait() async {
        stop()
        while process.isRunning { try? await Task.sleep(for: .milliseconds(20)) }
    }
}

/// The NDJSON events the kill tests send: page views of the people their ids name
/// (`k-<person>-…`), by email, so that re-sent events name the same contacts.
func killEvents(_ ids: [String]) -> String {
    ids.map { id in
        let person = id.split(separator: "-").dropFirst().first.map(String.init) ?? id
        return #"{"id":"\#(id)","type":"page_view","occurred_at":"2026-03-01T09:00:00Z","email":"p\#(person)@kill.example"}"#
    }.joined(separator: "\n")
}

actor Acknowledged {
    var ids: [String] = []
    func add(_ batch: [String]) { ids += batch }
}

@Suite("Durability")
struct KillTests {
    func send(_ batch: [String], port: Int, token: String) async throws -> Bool {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/api/v1/events")!)
        request.httpMethod = "POST"
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        request.setValue("application/x-ndjson", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(killEvents(batch).utf8)
        let (_, response) = try await URLSession.shared.data(for: request)
        return (response as? HTTPURLResponse)?.statusCode == 200
    }

    @Test("SIGKILL during ingest loses no acknowledged event; re-sending creates no duplicates")
    func killDuringIngest() async throws {
        let f = try await Fixture.make()
        defer { f.remove() }
        let token = f.tokens[.admin]!
        let database = f.dir + "/api.sqlite"
        let port = try LoopbackPort.free()
        let server = try ServerProcess(database: database, port: port)
        try await server.waitUntilReady()
        let acknowledged = Acknowledged()
        let writers = 6
        let batches = 400
        let perBatch = 25
        func batch(_ w: Int, _ b: Int) -> [String] { (0..<perBatch).map { "k-\(w)x\(b % 7)-\(b)-\($0)" } }
        let senders = Task {
            await withTaskGroup(of: Void.self) { group in
                for w in 0..<writers {
                    group.addTask {
                        for b in 0..<batches {
                            guard let ok = try? await send(batch(w, b), port: port, token: token), ok else { return }
                            await acknowledged.add(batch(w, b))
                        }
                    }
                }
            }
        }
        // Kill once a fair amount is acknowledged, while requests are in flight.
        while await acknowledged.ids.count < 3000 { try await Task.sleep(for: .milliseconds(20)) }
        server.kill()
        await senders.value
        let acked = await acknowledged.ids
        #expect(acked.count >= 3000 && acked.count < writers * batches * perBatch, "the kill came before the end")

        let restarted = try ServerProcess(database: database, port: port)
        defer { restarted.stop() }
        try await restarted.waitUntilReady()
        for id in acked { #expect(try await f.store.get(.touchpoints, id: id) != nil, "acknowledged \(id) was lost") }
        // Re-send everything, acknowledged or not: nothing is stored twice.
        for w in 0..<writers { for b in 0..<batches { #expect(try await send(batch(w, b), port: port, token: token)) } }
        #expect(try await f.store.count(.touchpoints) == writers * batches * perBatch)
        #expect(try await f.store.count(.contacts) == writers * 7)
    }

    /// A request with a JSON body; the status, or nil when the connection failed.
    func request(_ method: String, _ path: String, port: Int, token: String, body: String, type: String = "application/json") async -> (Int, Data)? {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.httpMethod = method
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        request.setValue(type, forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(body.utf8)
        guard let (data, response) = try? await URLSession.shared.data(for: request) else { return nil }
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, data)
    }

    @Test("SIGKILL during KPI-refreshing writes and during a scoring model apply: nothing acknowledged is lost, the aggregates verify, the old model stays active")
    func killDuringRefreshAndApply() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("smk-kill-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let database = dir + "/ws.sqlite"
        #expect(try await CLIRun.run(["demo", "--leads", "3000", "--seed", "3", "--out", dir + "/bundle"]).status == 0)
        #expect(try await CLIRun.run(["import", "bundle", dir + "/bundle", "--database", database]).status == 0)
        let model = try String(contentsOfFile: exampleModelPath(), encoding: .utf8)
        #expect(try await CLIRun.run(["scoring", "apply", exampleModelPath(), "--comment", "first", "--database", database]).status == 0)
        let token = try await CLIRun.run(["token", "create", "--user", "u-admin", "--role", "admin", "--database", database]).stdout
            .split(whereSeparator: \.isNewline).compactMap { $0.split(separator: " ").last.map(String.init) }.first { $0.hasPrefix("smk_") }
        let admin = try #require(token)
        let port = try LoopbackPort.free()
        let server = try ServerProcess(database: database, port: port)
        try await server.waitUntilReady()

        // Won deals and costs: each write refreshes the KPI aggregates in its transaction.
        let acknowledged = Acknowledged()
        let writers = Task {
            await withTaskGroup(of: Void.self) { group in
                for w in 0..<3 {
                    group.addTask {
                        for i in 0..<400 {
                            let id = "kill-\(w)-\(i)"
                            let body =
                                #"{"id":"\#(id)","account_id":"acc-1","created_at":"2026-01-05T10:00:00Z","closed_at":"2026-02-01T10:00:00Z","is_won":true,"amount":\#(1000 + i),"stage":"closed won"}"#
                            guard let (status, _) = await request("POST", "/api/v1/opportunities", port: port, token: admin, body: body), status == 201 else { return }
                            await acknowledged.add([id])
                        }
                    }
                }
            }
        }
        while await acknowledged.ids.count < 150 { try await Task.sleep(for: .milliseconds(10)) }
        // A model apply rescoring every contact in the background, killed while it runs.
        let changed = model.replacingOccurrences(of: "half_life: 7d", with: "half_life: 9d")
        #expect(changed != model, "the example model sets half_life: 7d")
        let started = await request("POST", "/api/v1/scoring/apply?comment=killed", port: port, token: admin, body: changed, type: "application/yaml")
        #expect(started?.0 == 202)
        try await Task.sleep(for: .milliseconds(150))
        server.kill()
        await writers.value
        let acked = await acknowledged.ids
        #expect(acked.count >= 150 && acked.count < 1200, "the kill came in the middle of the writes")

        let restarted = try ServerProcess(database: database, port: port)
        try await restarted.waitUntilReady()
        await restarted.stopAndWait()
        let store = try SQLiteStore.workspace(path: database)
        for id in acked { #expect(try await store.get(.opportunities, id: id) != nil, "acknowledged deal \(id) was lost") }
        // The aggregates equal a recomputation from the raw history.
        let verify = try await CLIRun.run(["kpi", "verify", "--database", database])
        #expect(verify.status == 0, "kpi verify: \(verify.stdout) \(verify.stderr)")
        // The interrupted apply never became active; the first model is, and a new apply works.
        let versions = try await store.scoringVersions()
        #expect(versions.first { $0.status == "active" }?.comment == "first", "\(versions.map { ($0.version, $0.status, $0.comment) })")
        #expect(!versions.contains { $0.status == "applying" }, "an interrupted apply is marked failed when the server starts")
        try changed.write(toFile: dir + "/changed.yaml", atomically: true, encoding: .utf8)
        let again = try await CLIRun.run(["scoring", "apply", dir + "/changed.yaml", "--comment", "again", "--database", database])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try await store.scoringVersions().first { $0.status == "active" }?.comment == "again")
    }
}

@Suite("Durability of syncs")
struct SyncKillTests {
    @Test("SIGKILL during `sync run`: the next run resumes at the stored cursor; every person once, nothing half-written")
    func killDuringSync() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("smk-synckill-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let db = dir + "/ws.sqlite"
        let fake = FakeHubSpot(limit: 10_000, window: .seconds(1))
        fake.grant(token: "kill-token")
        let persons = FakeData.people(1500, companies: 20, withoutEmail: 0.05, seed: 12)
        FakeData.fillHubSpot(fake, people: persons, companies: 20, deals: 0, emailsPerPerson: 0, vary: false, seed: 12)
        let server = try await FakeServerHandle.start(fake.router())
        defer { server.stop() }
        let env = ["SMARKETING_SECRET_KEY": "kill-test-key"]
        let add = try await CLIRun.run(["connect", "add", "hubspot", "hs", "--base-url", server.baseURL, "--allow-private-url", "--access-token", "kill-token", "--setting", "rate_limit=1000", "--setting", "rate_window_seconds=1", "--database", db], environment: env)
        #expect(add.status == 0, "\(add.stderr)")
        // Every contacts page answers slowly, so the kill lands in the middle of the contacts.
        fake.traffic.inject(Array(repeating: .init(status: 0, body: "", delay: .milliseconds(150)), count: 40), onPath: "/crm/v3/objects/contacts?")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try smarketingBinary())
        p.arguments = ["sync", "run", "hs", "--database", db]
        p.environment = ProcessInfo.processInfo.environment.merging(env) { _, b in b }
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        let store = try SQLiteStore.workspace(path: db)
        var seen = 0
        for _ in 0..<300 {
            seen = try await store.count(.contacts)
            if seen >= 300 { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        let atKill = try await store.count(.contacts)
        #expect(atKill >= 300 && atKill < 1500, "the kill came in the middle (\(atKill) contacts)")
        // Whole pages only: the contacts stored are a multiple of the page size, each linked.
        #expect(atKill % 100 == 0)
        let cursor = try await store.syncCursors(connection: "hs").first { $0.object == .people }
        #expect(cursor?.cursor != nil && cursor?.complete == false)
        let again = try await CLIRun.run(["sync", "run", "hs", "--database", db, "--json"], environment: env)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout.contains("\"created\":\(1500 - atKill)"), "\(again.stdout.prefix(600))")
        #expect(try await store.count(.contacts) == 1500)
        let keys = try await store.list(.contacts, { var q = ListQuery(); q.limit = 1000; return q }()).records.compactMap { $0["email"].text?.lowercased() }
        #expect(Set(keys).count == keys.count)
        #expect(try await store.duplicateContacts(limit: 10).filter { $0.reason.hasPrefix("same email") }.isEmpty)
    }
}
